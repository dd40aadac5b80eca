"""Every secret stays a secret from config to resource input, and never leaks."""

import pytest

from tests.unit import program

PROD = program.evaluate("prod")
GENERATED = "generated-" + "x" * 30  # what the mocked pulumi-random returns


def _leaks(graph, needle):
    """(resource, input key) pairs whose plain value holds `needle` but are not marked secret."""
    return [
        (r.name, key)
        for r in graph.resources
        for key, value in r.inputs.items()
        if program.contains(program.unwrap(value), needle) and not program.is_secret(value)
    ]


@pytest.mark.parametrize("key", sorted(program.PROD_SECRETS))
def test_operator_secret_reaches_inputs_only_as_secret(key):
    value = program.PROD_SECRETS[key]
    needle = value.strip().splitlines()[1] if "-----BEGIN" in value else value
    assert not _leaks(PROD, needle)


@pytest.mark.parametrize("key", ["redisPassword", "qdrantApiKey", "secretKey", "backupPassword"])
def test_operator_secret_is_used(key):
    value = program.PROD_SECRETS[key]
    assert any(program.contains(program.unwrap(r.inputs), value) for r in PROD.resources), key


def test_generated_secrets_stay_secret_in_dev():
    dev = program.evaluate("dev")
    assert dev.of_type("random:index/randomPassword:RandomPassword")
    assert not _leaks(dev, GENERATED)


def test_dev_needs_no_secret_set():
    dev = program.evaluate("dev", secrets={})
    generated = {r.name for r in dev.of_type("random:index/randomPassword:RandomPassword")}
    assert generated == {
        f"secrets-{k}"
        for k in ("redisPassword", "qdrantApiKey", "secretKey", "backupPassword", "apiKeys")
    } | {"monitoring-grafana-admin-password", "redis-exporter-password"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_secret_in_plain_stack_outputs(stack):
    graph = program.evaluate(stack)
    plain = {k: v for k, v in graph.outputs.items() if k not in graph.secret_outputs}
    for value in [*program.PROD_SECRETS.values(), GENERATED]:
        assert not program.contains(plain, value.strip().splitlines()[-1])


def test_dev_exports_its_generated_api_key_as_a_secret_only():
    dev = program.evaluate("dev", secrets={})
    assert dev.secret_outputs == {"devApiKey", "grafanaAdminPassword"}
    assert dev.outputs["devApiKey"] == GENERATED
    assert "devApiKey" not in program.evaluate("prod").outputs


def test_redis_password_is_not_on_any_command_line():
    redis = PROD.container("redis")
    assert not program.contains(redis.plain("command"), program.PROD_SECRETS["redisPassword"])
    assert not program.contains(redis.plain("healthcheck"), program.PROD_SECRETS["redisPassword"])

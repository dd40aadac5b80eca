"""What each target can honour (infra/config/capabilities.py): a key that asks the swarm
target for what it lacks is one problem naming the key, the value and the fix."""

import pytest

from infra import config
from infra.config import capabilities, schema
from infra.config.raw import RawReader
from infra.config.types import TARGETS
from tests.unit import program

SWARM = program.stack_values("swarm")
KEY_LINE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOV5wi8x9MvcTN7M29vZ/m5rq/M2YXFfgSnqNaG5uj+H ops"
DIGEST = "@sha256:" + "1" * 64
# A value that asks for its capability, for every key of the table.
ASKING = {
    "monitoring": "true",
    "alertThreshold": "60",
    "alertLogFloorBytes": "2048",
    "alertErrorRate": "20",
    "alertResponseTime": "3",
    "alertQueueDepth": "50",
    "alertDeadLetters": "5",
    "alertJobFailureRate": "40",
    "alertEmail": "ops@example.com",
    "prometheusRetention": "30d",
    "prometheusRetentionSize": "4GB",
    "monitoringTiming": "test",
    "runbookUrl": "https://git.example.com/ops/ora-infra/blob/main/docs/runbook.md",
    "smtpHost": "smtp.example.com",
    "smtpPort": "465",
    "smtpUser": "ora",
    "smtpCaCertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    "appRollbackImage": "ghcr.io/example/ora-app:0.9.0" + DIGEST,
    "appRollbackFrom": "ghcr.io/example/ora-app:1.0.0" + DIGEST,
    "tlsMode": "acme",
    "backupSchedule": "*-*-* 04:00:00",
    "backupOffsiteRepository": "sftp:backup@vault.example.net:/srv/ora",
    "backupOffsiteKnownHosts": "vault.example.net " + KEY_LINE.rsplit(" ", 1)[0],
    "deployPublicKey": KEY_LINE,
    "ciPublicKey": KEY_LINE,
    "bootstrapUser": "admin",
    "backupTextfileDir": "/srv/textfile",
    "bindAddress": "10.0.0.5",
}
ASKS = [(c, a) for c in capabilities.CAPABILITIES for a in c.asked_by]
LACKING = [(c, a) for c, a in ASKS if not capabilities.supported("swarm", c.name)]


def swarm_problems(overrides):
    with pytest.raises(config.ConfigError) as caught:
        config.parse("swarm", {**SWARM, **overrides}, frozenset(schema.secret_keys()))
    return str(caught.value)


def checked(target, raw, stack="dev"):
    r = RawReader(raw, schema.defaults())
    capabilities.check(r, target, stack)
    return [str(p) for p in r.problems]


def test_every_key_of_the_table_has_an_asking_value_here():
    assert {a.key for _c, a in ASKS} == set(ASKING)


@pytest.mark.parametrize(("capability", "ask"), LACKING, ids=[a.key for _c, a in LACKING])
def test_an_unsupported_key_on_swarm_names_key_value_and_fix(capability, ask):
    value = ASKING[ask.key]
    message = swarm_problems({ask.key: value})
    expected = (
        f"ora:{ask.key} = {value!r}: is not supported with ora:target swarm, which has no "
        f"{capability.lacking}. Fix: {ask.stop.format(file='Pulumi.swarm.yaml')}, "
        "or use ora:target host."
    )
    assert expected in message


@pytest.mark.parametrize(("capability", "ask"), ASKS, ids=[a.key for _c, a in ASKS])
def test_the_host_target_honours_every_key(capability, ask):
    assert checked("host", {ask.key: ASKING[ask.key]}) == []


def test_the_host_target_honours_them_all_at_once():
    assert checked("host", ASKING) == []


def test_swarm_reports_every_unsupported_key_at_once():
    assert len(checked("swarm", ASKING, "swarm")) == len(LACKING)


def test_swarm_honours_a_rollback():
    rollback = {k: ASKING[k] for k in ("appRollbackImage", "appRollbackFrom")}
    assert checked("swarm", {"monitoring": "false", **rollback}, "swarm") == []
    cfg = config.parse("swarm", {**SWARM, **rollback}, frozenset(schema.secret_keys()))
    assert cfg.images.app_rollback == rollback["appRollbackImage"]


@pytest.mark.parametrize("key", sorted(set(ASKING) - {"monitoring"}))
def test_a_key_left_at_its_default_asks_for_nothing(key):
    raw = {"monitoring": "false", key: RawReader({}, schema.defaults()).default(key)}
    assert checked("swarm", raw, "swarm") == []


def test_turning_a_capability_off_asks_for_nothing():
    off = {"monitoring": "false", "tlsMode": "self-signed", "bindAddress": "::"}
    assert checked("swarm", off, "swarm") == []
    assert checked("swarm", {**off, "bindAddress": "0.0.0.0"}, "swarm") == []  # noqa: S104


def test_monitoring_is_on_by_default_on_swarm_too():
    assert checked("swarm", {}, "swarm") == []
    assert config.offline("swarm").monitoring.enabled


def test_acme_on_swarm_is_one_problem():
    message = swarm_problems({"tlsMode": "acme"})
    assert message.count("ora:tlsMode = 'acme'") == 1


def test_the_message_is_built_from_the_table(monkeypatch):
    flipped = {
        "host": {**capabilities.SUPPORT["host"], "monitoring": False},
        "swarm": {**capabilities.SUPPORT["swarm"], "monitoring": True},
    }
    monkeypatch.setattr(capabilities, "SUPPORT", flipped)
    assert checked("host", {"monitoring": "true"}) == [
        "ora:monitoring = 'true': is not supported with ora:target host, which has no"
        f" {capabilities.CAPABILITIES[0].lacking}. Fix: set ora:monitoring false in"
        " Pulumi.dev.yaml, or use ora:target swarm."
    ]
    assert checked("swarm", {"monitoring": "true"}, "swarm") == []


def test_without_a_target_that_has_it_the_fix_only_stops_asking(monkeypatch):
    lacking = {t: {**capabilities.SUPPORT[t], "bind address": False} for t in TARGETS}
    monkeypatch.setattr(capabilities, "SUPPORT", lacking)
    [problem] = checked("host", {"bindAddress": "10.0.0.5"})
    assert problem.endswith("Fix: remove ora:bindAddress from Pulumi.dev.yaml.")


def test_the_table_covers_every_target_and_capability():
    names = [c.name for c in capabilities.CAPABILITIES]
    assert len(set(names)) == len(names)
    assert set(capabilities.SUPPORT) == set(TARGETS)
    for target in TARGETS:
        assert set(capabilities.SUPPORT[target]) == set(names), target
    assert all(capabilities.SUPPORT["host"].values())


def test_asked_keys_are_declared_plain_keys_asked_once():
    keys = [a.key for _c, a in ASKS]
    assert len(set(keys)) == len(keys)
    declared = schema.keys()
    assert all(key in declared and not declared[key].secret for key in keys)

"""ora:target and the swarm keys: bad input is one error naming the key, the value and the fix."""

import pytest

from infra import config
from tests.unit import program

SWARM = program.stack_values("swarm")


def problems(raw):
    with pytest.raises(config.ConfigError) as caught:
        config.parse("swarm", raw, secrets_set=frozenset(config.CORE_SECRETS))
    return str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"target": "cluster"},
            "ora:target = 'cluster': is not a known value. Fix: use one of: host, swarm.",
        ),
        ({"swarmMaxReplicasPerNode": "-1"}, "ora:swarmMaxReplicasPerNode = '-1': is outside 0..16"),
        ({"swarmEncryptedNetwork": "yes"}, "ora:swarmEncryptedNetwork = 'yes': is not a boolean"),
        ({"appImage": ""}, "ora:appImage = '': is empty but ora:target is swarm"),
        ({"tlsMode": "acme"}, "ora:tlsMode = 'acme': is not supported with ora:target swarm"),
        ({"bootstrapHost": "true"}, "ora:bootstrapHost = 'true': prepares one host, not a swarm"),
    ],
)
def test_bad_swarm_value_is_named_with_its_fix(overrides, line):
    assert line in problems({**SWARM, **overrides})


def test_the_example_stack_parses_as_swarm():
    cfg = config.offline("swarm")
    assert cfg.swarm.enabled and cfg.swarm.max_replicas_per_node == 2
    assert not cfg.swarm.encrypted_network


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_host_is_the_default_target(stack):
    assert config.offline(stack).swarm.target == "host"

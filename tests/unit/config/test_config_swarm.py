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


NODES = "10.0.0.1 manager ora.edge\n10.0.0.2 worker ora.data\n"
FORMED = {**SWARM, "swarmNodes": NODES, "host": "10.0.0.1"}


def test_swarm_nodes_parse_into_hosts_roles_labels_and_addresses():
    raw = {**FORMED, "swarmNodes": NODES + "n3.example.net worker advertise=10.0.0.3\n"}
    cfg = config.parse("swarm", raw, secrets_set=frozenset(config.CORE_SECRETS))
    assert [(n.host, n.role, n.labels, n.advertise) for n in cfg.swarm.nodes] == [
        ("10.0.0.1", "manager", ("ora.edge",), "10.0.0.1"),
        ("10.0.0.2", "worker", ("ora.data",), "10.0.0.2"),
        ("n3.example.net", "worker", (), "10.0.0.3"),
    ]


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"swarmNodes": "10.0.0.1 leader ora.edge ora.data"},
            "ora:swarmNodes = '10.0.0.1 leader ora.edge ora.data': line 1"
            " ('10.0.0.1 leader ora.edge ora.data') is not a known value."
            " Fix: use one of: manager, worker.",
        ),
        (
            {"swarmNodes": "10.0.0.1 manager ora.edge ora.data gpu"},
            "has 'gpu', neither a node label nor advertise=IP. Fix: HOST ROLE [ora.edge]",
        ),
        (
            {"swarmNodes": "m1.example.net manager ora.edge ora.data", "host": "m1.example.net"},
            "names m1.example.net by DNS name, but the swarm advertises an IP."
            " Fix: add advertise=IP to the line of m1.example.net.",
        ),
        (
            {"swarmNodes": "10.0.0.2 worker ora.data\n10.0.0.1 manager ora.edge"},
            "starts with a worker. Fix: put the first manager first.",
        ),
        (
            {"swarmNodes": "10.0.0.1 manager ora.edge ora.data\n10.0.0.2 worker ora.data"},
            "has 2 nodes labelled ora.data. Fix: label exactly one node ora.data",
        ),
        ({"swarmNodes": "10.0.0.1 manager ora.edge"}, "has 0 nodes labelled ora.data"),
        ({"swarmNodes": "10.0.0.1 manager ora.data"}, "has no node labelled ora.edge"),
        (
            {"swarmNodes": "10.0.0.1 manager ora.edge ora.data\n10.0.0.1 worker"},
            "names a host twice. Fix: list every node once.",
        ),
        (
            {"host": "10.0.0.9"},
            "ora:host = '10.0.0.9': is not the first manager of ora:swarmNodes (10.0.0.1),"
            " which the Docker provider must talk to. Fix: pulumi config set ora:host 10.0.0.1.",
        ),
        (
            {"swarmAddressPool": "10.214.0.0/33"},
            "ora:swarmAddressPool = '10.214.0.0/33': is not a network",
        ),
        (
            {"target": "host"},
            "ora:swarmNodes = '10.0.0.1 manager ora.edge\\n10.0.0.2 worker ora.data\\n':"
            " is set but ora:target is host",
        ),
    ],
)
def test_bad_swarm_nodes_are_named_with_their_fix(overrides, line):
    assert line in problems({**FORMED, **overrides})


def test_swarm_does_not_ask_for_the_backup_password_it_has_no_backups_for():
    secrets = frozenset(config.CORE_SECRETS) - {"backupPassword"} | {"grafanaAdminPassword"}
    raw = {**SWARM, "generateSecrets": "false"}
    assert config.parse("swarm", raw, secrets_set=secrets).swarm.enabled
    host = {**program.stack_values("dev"), "generateSecrets": "false"}
    with pytest.raises(config.ConfigError, match=r"ora:backupPassword = <unset>: is required"):
        config.parse("dev", host, secrets_set=secrets)

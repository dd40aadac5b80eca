"""The swarm formed over SSH (ora:swarmNodes) under mocks: one init on the first manager,
a join per other node with the token only on stdin and secret, labels from config, and
the Docker provider declared after all of it."""

from __future__ import annotations

import json

import pytest

from tests.unit import program
from tests.unit.program import FAKE_JOIN_TOKEN, contains, is_secret
from tests.unit.targets.swarm.test_swarm import SECRETS

COMMAND = "command:remote:Command"
NODES = """10.0.0.1 manager ora.edge
10.0.0.2 worker ora.data
10.0.0.3 manager ora.edge
swarm-4.example.net worker advertise=10.0.0.4
"""
FORMED = {"swarmNodes": NODES, "host": "10.0.0.1", "swarmAddressPool": "10.214.0.0/16"}


@pytest.fixture(scope="module")
def formed() -> program.Declared:
    return program.evaluate("swarm", FORMED, secrets=SECRETS)


def commands(declared: program.Declared, step: str) -> list[program.Resource]:
    return [c for c in declared.of_type(COMMAND) if c.name.startswith(f"swarm-{step}")]


def test_the_example_stack_forms_no_swarm():
    # Pulumi.swarm.yaml lists no nodes: the swarm is formed by hand (and by make swarm-e2e).
    assert program.evaluate("swarm", secrets=SECRETS).of_type(COMMAND) == []


def test_one_init_on_the_first_manager(formed):
    (init,) = commands(formed, "init")
    assert init.plain("connection")["host"] == "10.0.0.1"
    assert "docker swarm init --advertise-addr 10.0.0.1" in init.plain("create")
    assert "--default-addr-pool 10.214.0.0/16" in init.plain("create")


def test_every_other_node_joins_on_its_own_connection(formed):
    joins = {c.plain("connection")["host"]: c for c in commands(formed, "join")}
    assert sorted(joins) == ["10.0.0.2", "10.0.0.3", "swarm-4.example.net"]
    for host, join in joins.items():
        assert join.plain("connection")["user"] == "deploy", host


@pytest.mark.parametrize(
    ("host", "advertise"),
    [("10.0.0.2", "10.0.0.2"), ("10.0.0.3", "10.0.0.3"), ("swarm-4.example.net", "10.0.0.4")],
)
def test_join_token_reaches_the_node_only_on_stdin_as_a_secret(formed, host, advertise):
    (join,) = [c for c in commands(formed, "join") if c.plain("connection")["host"] == host]
    assert is_secret(join.inputs["stdin"]), f"{join.name}: the join body is not secret"
    body = json.loads(join.plain("stdin"))
    assert body["JoinToken"] == FAKE_JOIN_TOKEN
    assert body["RemoteAddrs"] == ["10.0.0.1:2377"]
    assert body["AdvertiseAddr"] == advertise
    assert "--token" not in join.plain("create")


def test_a_token_per_role_needed_read_on_the_first_manager(formed):
    tokens = {c.name: c.plain("connection")["host"] for c in commands(formed, "token")}
    assert tokens == {"swarm-token-manager": "10.0.0.1", "swarm-token-worker": "10.0.0.1"}


def test_no_join_token_in_any_command_line(formed):
    for command in formed.of_type(COMMAND):
        for key in ("create", "update", "delete", "triggers", "environment"):
            assert not contains(command.plain(key), FAKE_JOIN_TOKEN), f"{command.name}.{key}"
            assert not contains(command.plain(key), "SWMTKN"), f"{command.name}.{key}"


@pytest.mark.parametrize(
    ("host", "added", "removed"),
    [
        ("10.0.0.1", ["ora.edge"], ["ora.data"]),
        ("10.0.0.2", ["ora.data"], ["ora.edge"]),
        ("10.0.0.3", ["ora.edge"], ["ora.data"]),
        ("swarm-4.example.net", [], ["ora.edge", "ora.data"]),
    ],
)
def test_labels_from_config_are_set_on_the_manager(formed, host, added, removed):
    (label,) = commands(formed, f"labels-{host}")
    assert label.plain("connection")["host"] == "10.0.0.1"
    script = label.plain("create")
    for name in added:
        assert f"--label-add {name}=true" in script
    for name in removed:
        assert f"--label-rm {name}" in script


def test_the_docker_provider_waits_for_the_labels(formed):
    order = [r.name for r in formed.resources]
    last_label = max(i for i, r in enumerate(formed.resources) if r.name.startswith("swarm-labels"))
    assert order.index("docker") > last_label, order


def test_node_ids_are_exported_and_tokens_are_not(formed):
    assert sorted(formed.outputs["swarmNodeIds"]) == [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "swarm-4.example.net",
    ]
    assert not contains(formed.outputs, FAKE_JOIN_TOKEN)


def token_outputs(command: program.Resource) -> set[str]:
    """The outputs of `command` that can hold a join token."""
    script = command.plain("create")
    if "docker swarm join-token" in script:
        return {"stdout", "stderr"}  # the token itself, and anything docker says beside it
    if "docker swarm init" in script:
        return {"stderr"}  # swarm init's own words (its stdout, the join command, is dropped)
    if command.inputs.get("stdin") is not None:
        return {"stderr"}  # the engine's reply to the join request that carried the token
    return set()


HANDLING_A_TOKEN = [
    "swarm-init",
    "swarm-join-10.0.0.2",
    "swarm-join-10.0.0.3",
    "swarm-join-swarm-4.example.net",
    "swarm-token-manager",
    "swarm-token-worker",
]


def test_commands_that_handle_a_token_are_identified(formed):
    handling = sorted(c.name for c in formed.of_type(COMMAND) if token_outputs(c))
    assert handling == HANDLING_A_TOKEN


@pytest.mark.parametrize("name", HANDLING_A_TOKEN)
def test_no_token_output_is_logged_or_stored_in_plain_text(formed, name):
    (command,) = [c for c in formed.of_type(COMMAND) if c.name == name]
    urn = command.options.urn
    assert command.plain("logging") == "none", f"{urn}: stdout/stderr stream into the log"
    plain = token_outputs(command) - set(command.options.additional_secret_outputs)
    assert not plain, f"{urn}: {sorted(plain)} stored unencrypted in the state"

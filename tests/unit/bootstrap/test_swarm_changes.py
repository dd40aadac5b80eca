"""Membership changes planned from the last deploy's nodes against ora:swarmNodes
(infra/bootstrap/swarm_changes.py), and the removal commands the bootstrap declares for
them under mocks: drained on the first manager, left on the node, removed on the manager."""

from __future__ import annotations

import pytest

from infra.bootstrap import swarm_changes
from infra.config import target
from tests.unit import program
from tests.unit.bootstrap.test_swarm_bootstrap import FORMED, NODES, commands
from tests.unit.targets.swarm.test_swarm import SECRETS

IDS = {
    "10.0.0.1": "a" * 25,
    "10.0.0.2": "b" * 25,
    "10.0.0.3": "c" * 25,
    "swarm-4.example.net": "d" * 25,
    "10.0.0.5": "e" * 25,
}
BEFORE = swarm_changes.formed(target.nodes(NODES + "10.0.0.5 worker\n"))
NOW = target.nodes(NODES)


def test_no_last_deploy_removes_nothing():
    assert swarm_changes.removals(None, None, NOW, False) == ()


def test_a_node_no_longer_listed_is_removed_by_its_id():
    (removal,) = swarm_changes.removals(BEFORE, IDS, NOW, False)
    assert (removal.host, removal.node_id, removal.was_data_node) == ("10.0.0.5", "e" * 25, False)


def test_a_changed_role_or_label_removes_nothing():
    changed = target.nodes(NODES.replace("10.0.0.3 manager", "10.0.0.3 worker"))
    assert swarm_changes.removals(swarm_changes.formed(NOW), IDS, changed, False) == ()


@pytest.mark.parametrize(
    ("nodes", "said"),
    [
        # the data node's line removed, its label on another node
        (NODES.replace("10.0.0.2 worker ora.data\n", "").replace(
            "10.0.0.3 manager ora.edge", "10.0.0.3 manager ora.edge ora.data"
        ), "removes it"),
        # the label moved from node 2 to node 3
        (NODES.replace("10.0.0.2 worker ora.data", "10.0.0.2 worker").replace(
            "10.0.0.3 manager ora.edge", "10.0.0.3 manager ora.edge ora.data"
        ), "labels 10.0.0.3 instead"),
    ],
)  # fmt: skip
def test_the_data_node_changes_only_with_the_flag_and_the_error_names_it(nodes, said):
    before = swarm_changes.formed(NOW)
    with pytest.raises(swarm_changes.DataNodeChange) as refused:
        swarm_changes.removals(before, IDS, target.nodes(nodes), False)
    message = str(refused.value)
    assert "kept Redis and Qdrant on 10.0.0.2" in message and said in message
    assert "ora:swarmDataNodeMoved" in message
    allowed = swarm_changes.removals(before, IDS, target.nodes(nodes), True)
    assert [r.was_data_node for r in allowed] == ([True] if said == "removes it" else [])


def test_the_bootstrap_takes_a_removed_node_out_in_three_ordered_steps():
    declared = program.evaluate(
        "swarm",
        FORMED,
        secrets=SECRETS,
        previous_outputs={swarm_changes.OUTPUT: BEFORE, "swarmNodeIds": IDS},
    )
    (drain,) = commands(declared, "drain")
    (leave,) = commands(declared, "leave")
    (remove,) = commands(declared, "remove")
    assert drain.plain("connection")["host"] == remove.plain("connection")["host"] == "10.0.0.1"
    assert leave.plain("connection")["host"] == "10.0.0.5"
    assert f"node={'e' * 25}" in drain.plain("create")
    assert "docker swarm leave" in leave.plain("create")
    assert f"node={'e' * 25}" in remove.plain("create")
    assert drain.options.urn in leave.options.dependencies
    assert leave.options.urn in remove.options.dependencies
    labels = [c.options.urn for c in commands(declared, "labels")]
    assert set(labels) <= set(drain.options.dependencies)
    assert declared.outputs[swarm_changes.OUTPUT] == swarm_changes.formed(NOW)


def test_the_node_changes_and_the_history_read_one_reference_to_the_stack():
    previous = {swarm_changes.OUTPUT: BEFORE, "swarmNodeIds": IDS, "appHistory": []}
    declared = program.evaluate("swarm", FORMED, secrets=SECRETS, previous_outputs=previous)
    (reference,) = declared.of_type(program.STACK_REFERENCE)
    assert reference.plain("name") == "organization/ora/swarm"
    assert commands(declared, "drain") and declared.outputs["appHistory"]


def test_a_data_node_change_fails_the_program_before_any_command():
    nodes = NODES.replace("10.0.0.2 worker ora.data", "10.0.0.2 worker ora.edge ora.data")
    moved = swarm_changes.formed(target.nodes(nodes.replace(" ora.data", "").replace(
        "10.0.0.3 manager ora.edge", "10.0.0.3 manager ora.edge ora.data")))  # fmt: skip
    with pytest.raises(Exception, match=r"kept Redis and Qdrant on 10\.0\.0\.3"):
        program.evaluate(
            "swarm",
            {**FORMED, "swarmNodes": nodes},
            secrets=SECRETS,
            previous_outputs={swarm_changes.OUTPUT: moved, "swarmNodeIds": IDS},
        )

"""The rollout check after a swarm apply (infra/ops/rollout.py), against the provider's
own wait (tests/provider_rules.py): the case the provider misses is the one it catches."""

from __future__ import annotations

import pytest

from infra.ops import rollout as swarm_rollout
from tests import provider_rules as rules


def task(slot: int, state: str, image: str, desired: str = "running", node: str = "n1") -> dict:
    return {
        "Slot": slot,
        "NodeID": node,
        "DesiredState": desired,
        "Status": {"State": state},
        "Spec": {"ContainerSpec": {"Image": image}},
    }


def inspected(name: str, state: str | None, message: str = "") -> dict:
    """A `docker service inspect` entry."""
    service = {"Spec": {"Name": name}}
    if state:
        service["UpdateStatus"] = {"State": state, "Message": message}
    return service


# start-first, 7 s in: each slot runs a task; slot 1's is already the new version, whose
# healthcheck Swarm has not yet judged.
MID_ROLLOUT = [
    task(1, "running", "v3"),
    task(1, "shutdown", "v2", desired="shutdown"),
    task(2, "running", "v2"),
]


def test_the_provider_reports_done_mid_rollout():
    running = rules.running_slots(MID_ROLLOUT, {"n1"})
    assert running == 2
    assert rules.converged("updating", replicas=2, running=running)


def test_the_provider_counts_no_task_on_a_node_that_is_down():
    assert rules.running_slots(MID_ROLLOUT, {"n2"}) == 0


def test_the_provider_raises_on_a_rollback_it_sees():
    with pytest.raises(RuntimeError, match="rollback_completed: task failed"):
        rules.converged("rollback_completed", 2, 2, "task failed")


def test_the_check_waits_while_swarm_updates_then_names_the_rolled_back_service():
    replicas = {"ora-swarm-app": "2/2", "ora-swarm-redis": "1/1", "ora-swarm-nginx": "1/1"}
    updating = swarm_rollout.rollouts(
        [inspected("ora-swarm-app", "updating"), inspected("ora-swarm-redis", None)], replicas
    )
    assert not swarm_rollout.settled(updating)
    final = swarm_rollout.rollouts(
        [
            inspected("ora-swarm-redis", None),
            inspected("ora-swarm-app", "rollback_completed", "update rolled back due to failure"),
            inspected("ora-swarm-nginx", "completed"),
        ],
        replicas,
    )
    assert swarm_rollout.settled(final)
    failed = swarm_rollout.failures(final)
    assert [r.service for r in failed] == ["ora-swarm-app"]
    text = swarm_rollout.report("swarm", failed)
    assert "ora-swarm-app: Swarm's update is rollback_completed: update rolled back" in text
    assert "ARGS=--refresh" in text


@pytest.mark.parametrize("state", ["paused", "rollback_paused", "rollback_completed"])
def test_every_failed_state_fails(state):
    found = swarm_rollout.rollouts([inspected("s", state)], {"s": "0/2"})
    assert swarm_rollout.settled(found) and swarm_rollout.failures(found)


@pytest.mark.parametrize("state", [None, "completed"])
def test_a_kept_rollout_passes(state):
    found = swarm_rollout.rollouts([inspected("s", state)], {"s": "2/2 (max 2 per node)"})
    assert swarm_rollout.settled(found) and not swarm_rollout.failures(found)


def test_a_new_global_service_is_waited_for_until_its_tasks_run():
    """The provider does not wait for a global service at all: the check does."""
    starting = swarm_rollout.rollouts([inspected("nginx", None)], {"nginx": "0/1"})
    assert not swarm_rollout.settled(starting)
    assert swarm_rollout.settled(
        swarm_rollout.rollouts([inspected("nginx", None)], {"nginx": "1/1"})
    )


def test_a_replicas_column_it_cannot_read_is_an_error():
    with pytest.raises(ValueError, match="REPLICAS"):
        swarm_rollout.replica_counts("n/a")

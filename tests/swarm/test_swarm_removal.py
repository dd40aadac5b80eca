"""Node changes by ora:swarmNodes, last in make swarm-e2e: each step runs the script the
bootstrap declares for it (infra/bootstrap/swarm_scripts.py, swarm_removal.py), as the
remote Command runs it (`sh -c "bash -c SCRIPT"`), against the node's own socket.

- A changed role: node 2 promoted by the label script, then demoted again.
- The data node (node 2, ora.data) refused: its drain fails, naming the label, and the
  node stays active.
- A node removed under load: node 3 (it holds app replicas) drained, which waits until its
  replicas run elsewhere; it leaves; the manager removes it. Failed requests are counted.
"""

from __future__ import annotations

import time
import uuid

import pytest

from infra.bootstrap import swarm_removal, swarm_scripts
from tests.e2e.load import Load
from tests.swarm.formation import ScriptFailed, run_script
from tests.swarm.test_swarm_e2e import api_key, search_url
from tests.swarm.test_swarm_node_loss import (
    MAX_FAILED,
    SETTLE_S,
    replicas_onto,
    running_replicas,
    stack_settled,
    wait_until,
)

pytestmark = pytest.mark.e2e
REMOVED = "node3"
DATA = "node2"
MANAGER = swarm_scripts.DEFAULT_SOCKET  # node 1's engine: the first manager


def node_attrs(deployment, name: str) -> dict:
    return deployment.cluster.host.nodes.get(deployment.cluster.ids[name]).attrs


def test_a_changed_role_promotes_then_demotes_the_node(deployment):
    stack_settled(deployment)
    node_id = deployment.cluster.ids[DATA]
    for role in ("manager", "worker"):
        run_script("node1", swarm_scripts.label_script(node_id, ["ora.data"], role, MANAGER))
        wait_until(
            f"{DATA} a {role}",
            lambda role=role: (
                node_attrs(deployment, DATA)["Spec"]["Role"] == role
                and (role == "worker" or "ManagerStatus" in node_attrs(deployment, DATA))
            ),
            timeout=60,
        )
    assert node_attrs(deployment, DATA)["Spec"]["Labels"] == {"ora.data": "true"}


def test_the_data_node_is_not_drained(deployment):
    node_id = deployment.cluster.ids[DATA]
    with pytest.raises(ScriptFailed, match=r"holds ora\.data"):
        run_script("node1", swarm_removal.drain_script(node_id, socket=MANAGER))
    assert node_attrs(deployment, DATA)["Spec"]["Availability"] == "active"


@pytest.fixture(scope="module")
def removal(deployment):
    cluster = deployment.cluster
    stack_settled(deployment)
    replicas_onto(deployment, REMOVED)
    node_id = cluster.ids[REMOVED]
    held = [t for t in running_replicas(deployment) if t["NodeID"] == node_id]
    agent = f"swarm-removal-{uuid.uuid4().hex}"
    timings = {}
    with Load(
        search_url(deployment),
        rate=40,
        threads=4,
        headers={**api_key(deployment), "User-Agent": agent},
    ) as load:
        time.sleep(SETTLE_S)
        started = time.monotonic()
        said = run_script("node1", swarm_removal.drain_script(node_id, socket=MANAGER))
        timings["drained"] = time.monotonic() - started
        # The drain's promise, read at once: every replica already runs on another node.
        elsewhere = [t for t in running_replicas(deployment) if t["NodeID"] != node_id]
        run_script(
            REMOVED,
            swarm_removal.leave_script(cluster.members[REMOVED].socket.removeprefix("unix://")),
        )
        timings["left"] = time.monotonic() - started
        run_script("node1", swarm_removal.remove_script(node_id, socket=MANAGER))
        timings["removed"] = time.monotonic() - started
        time.sleep(SETTLE_S)
    result = load.result
    print(
        f"\n[swarm] {REMOVED} removed by config under load: drained (its {len(held)} "
        f"replica(s) running elsewhere) after {timings['drained']:.1f} s, left after "
        f"{timings['left']:.1f} s, removed after {timings['removed']:.1f} s; "
        f"{result.sent} requests, {result.failed} failed {dict(result.failures)}, "
        f"{result.retried} resent; the drain said: {said!r}"
    )
    return {"held": held, "elsewhere": elsewhere, "load": result, "node_id": node_id}


def test_a_removed_node_held_replicas_that_run_elsewhere(deployment, removal):
    assert removal["held"]
    assert len(removal["elsewhere"]) == int(deployment.overrides["appReplicas"])
    tasks = running_replicas(deployment)
    assert len(tasks) == int(deployment.overrides["appReplicas"])
    assert all(t["NodeID"] != removal["node_id"] for t in tasks)


def test_the_removed_node_is_out_of_the_swarm(deployment, removal):
    ids = {n.id for n in deployment.cluster.host.nodes.list()}
    assert removal["node_id"] not in ids
    info = deployment.cluster.members[REMOVED].client.info()
    assert info["Swarm"]["LocalNodeState"] == "inactive"


def test_requests_while_a_node_is_removed(removal):
    result = removal["load"]
    assert result.sent > 100
    assert result.failed <= MAX_FAILED, dict(result.failures)

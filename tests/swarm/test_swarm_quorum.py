"""A manager lost under load while the swarm has three (make swarm-e2e; runs after the
worker drills of test_swarm_node_loss.py, on the same session's swarm).

Nodes 2 and 3 are promoted, so every node is a manager. Node 3's link is cut (abrupt: its
dockerd runs on, unreachable): the other two keep the Raft quorum (2 of 3), so the
manager the stack is deployed through (node 1) still takes a deploy, one that rolls the app
and worker services (a new ora:logLevel), while searches run through nginx. The link is
mended, node 3 rejoins, and both nodes are demoted again.
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from tests.e2e.load import Load
from tests.swarm.test_swarm_e2e import api_key, search_url
from tests.swarm.test_swarm_node_loss import MAX_FAILED, SETTLE_S, stack_settled, wait_until

pytestmark = pytest.mark.e2e
PROMOTED = ("node2", "node3")
LOST = "node3"


def node_role(cluster, name: str) -> tuple[str, str]:
    """(role, manager reachability) of a node, as node 1 sees it."""
    attrs = cluster.host.nodes.get(cluster.ids[name]).attrs
    return attrs["Spec"]["Role"], attrs.get("ManagerStatus", {}).get("Reachability", "-")


def docker_node(*args: str) -> None:
    subprocess.run(["docker", "node", *args], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def manager_loss(deployment):
    cluster = deployment.cluster
    stack_settled(deployment)
    docker_node("promote", *(cluster.ids[n] for n in PROMOTED))
    wait_until(
        "three reachable managers",
        lambda: all(node_role(cluster, n) == ("manager", "reachable") for n in cluster.ids),
        timeout=120,
    )
    lost_id, replicas = cluster.ids[LOST], int(deployment.overrides["appReplicas"])

    def rescheduled() -> bool:
        tasks = deployment.tasks("app")
        return len(tasks) == replicas and all(t["NodeID"] != lost_id for t in tasks)

    agent = f"swarm-quorum-{uuid.uuid4().hex}"
    headers = {**api_key(deployment), "User-Agent": agent}
    level = "ERROR" if deployment.overrides.get("logLevel") != "ERROR" else "WARNING"
    node = cluster.members[LOST]
    try:
        with Load(search_url(deployment), rate=40, threads=4, headers=headers) as load:
            time.sleep(SETTLE_S)
            node.link(up=False)
            unreachable = wait_until(
                f"{LOST} unreachable as a manager",
                lambda: node_role(cluster, LOST)[1] == "unreachable",
            )
            # Down, and its replicas elsewhere: what an operator finds before deploying.
            down = unreachable + wait_until(
                f"{LOST} down", lambda: cluster.states()[LOST] == "down"
            )
            down += wait_until("its replicas rescheduled", rescheduled)
            deployed = deployment.apply(logLevel=level)
            time.sleep(SETTLE_S)
    finally:
        node.link(up=True)
    back = wait_until(
        f"{LOST} a reachable manager again",
        lambda: node_role(cluster, LOST) == ("manager", "reachable"),
        timeout=120,
    )
    docker_node("demote", *(cluster.ids[n] for n in PROMOTED))
    wait_until(
        "nodes 2 and 3 workers again",
        lambda: all(node_role(cluster, n)[0] == "worker" for n in PROMOTED),
        timeout=60,
    )
    stack_settled(deployment)
    result = load.result
    print(
        f"\n[swarm] manager {LOST} of 3 cut off under load: unreachable after "
        f"{unreachable:.1f} s, down with its replicas elsewhere after {down:.1f} s; a deploy "
        f"(ora:logLevel {level}, rolling app and worker) went through node 1 in "
        f"{deployed:.1f} s; {result.sent} requests, {result.failed} failed "
        f"{dict(result.failures)}, {result.retried} resent. Link mended: a reachable manager "
        f"again after {back:.1f} s"
    )
    return {"level": level, "load": result}


def test_a_deploy_goes_through_with_one_manager_of_three_lost(deployment, manager_loss):
    level = manager_loss["level"]
    for service in ("app", "worker"):
        for task in deployment.tasks(service):
            assert f"LOG_LEVEL={level}" in task["Spec"]["ContainerSpec"]["Env"], service


def test_requests_while_a_manager_is_lost(manager_loss):
    result = manager_loss["load"]
    assert result.sent > 100
    assert result.failed <= MAX_FAILED, dict(result.failures)


def test_the_managers_are_as_before(deployment, manager_loss):
    roles = {n: node_role(deployment.cluster, n)[0] for n in deployment.cluster.ids}
    assert roles == {"node1": "manager", "node2": "worker", "node3": "worker"}

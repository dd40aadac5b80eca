"""A worker node lost under load, then brought back, twice (make swarm-e2e; runs after
test_swarm_e2e.py, on the same session's swarm): a clean stop of its dockerd, then its
link cut.

Node 3 holds app replicas only (not the edge, not the data). Its dockerd is stopped as
`systemctl stop docker` would (SIGTERM: dockerd stops its containers and exits) while
searches run through nginx; Swarm marks the node down and starts its replicas on the
other two nodes. nginx re-resolves the app's dnsrr name every 2 s and retries a failed
connect on another replica (proxy_next_upstream: idempotent requests only). The failed
requests (0 in every run so far: the test asserts it) and nginx's retries are counted and
printed, with the time the manager took to mark the node down and to run its replicas
elsewhere.

The second drill is abrupt: node 3's only link goes down (its veth, on the host's side)
while its dockerd and its replicas run on, unreachable. nginx's connects to them time out
and go to another replica until Swarm has marked the node down and rescheduled them; when
the link is back, the node rejoins and stops the tasks that now run elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import uuid

import pytest

from tests.e2e.load import Load
from tests.swarm.realize_swarm import converge
from tests.swarm.test_swarm_e2e import api_key, search_url

pytestmark = pytest.mark.e2e
LOST = "node3"
STACK = "swarm"
STACK_LABEL = f"org.ora.stack={STACK}"
# Failed requests allowed while a node is lost: 0 in three runs of three (README, swarm).
MAX_FAILED = 0
# A cut link is not a clean stop: a request already sent to a replica on the cut node, on a
# kept-alive upstream connection, waits there until the client gives up. 0 failed in four
# runs, 2 ReadTimeouts of 1676 requests in the fifth: the drill bounds it at 1 %.
LINK_CUT_MAX_FAILED_SHARE = 0.01
SETTLE_S = 5  # load before the stop and after the rescheduling


def running_replicas(deployment) -> list[dict]:
    return deployment.tasks("app")


def wait_until(what: str, predicate, timeout: float = 180) -> float:
    """Seconds until predicate() held; raises with `what` after `timeout`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not after {timeout} s")
        time.sleep(0.5)
    return time.monotonic() - started


def nginx_retries(deployment, agent: str) -> int:
    """Requests of this load that nginx sent to more than one replica ($upstream_addr
    lists every replica it tried)."""
    (edge,) = deployment.tasks("nginx")
    container = edge["Status"]["ContainerStatus"]["ContainerID"]
    logs = deployment.cluster.host.containers.get(container).logs().decode(errors="replace")
    retried = 0
    for line in logs.splitlines():
        if agent in line:
            with contextlib.suppress(ValueError):
                retried += "," in json.loads(line).get("upstream_addr", "")
    return retried


@pytest.fixture(scope="module")
def node_loss(deployment):
    """Stops node 3's dockerd under load; returns what was measured."""
    cluster = deployment.cluster
    lost_id = cluster.ids[LOST]
    replicas = int(deployment.overrides["appReplicas"])
    held = [t["ID"] for t in running_replicas(deployment) if t["NodeID"] == lost_id]

    def rescheduled() -> bool:
        tasks = running_replicas(deployment)
        return len(tasks) == replicas and all(t["NodeID"] != lost_id for t in tasks)

    agent = f"swarm-node-loss-{uuid.uuid4().hex}"  # nginx logs it: this load's lines
    headers = {**api_key(deployment), "User-Agent": agent}
    with Load(search_url(deployment), rate=40, threads=4, headers=headers) as load:
        time.sleep(SETTLE_S)
        started = time.monotonic()
        cluster.members[LOST].stop()
        stopped = time.monotonic() - started
        down = wait_until(f"{LOST} down", lambda: cluster.states()[LOST] == "down")
        moved = wait_until("the lost replicas rescheduled", rescheduled)
        time.sleep(SETTLE_S)
    retried = nginx_retries(deployment, agent)
    measured = {
        "retried_by_nginx": retried,
        "held": held,
        "stop_s": stopped,
        "down_s": stopped + down,
        "rescheduled_s": stopped + down + moved,
        "load": load.result,
        "after": running_replicas(deployment),
    }
    result = load.result
    print(
        f"\n[swarm] {LOST} lost under load: dockerd stopped in {stopped:.1f} s, node down "
        f"after {measured['down_s']:.1f} s, its {len(held)} replica(s) running elsewhere "
        f"after {measured['rescheduled_s']:.1f} s; {result.sent} requests, {result.failed} "
        f"failed {dict(result.failures)}, {result.retried} resent; nginx retried {retried} "
        "on another replica"
    )
    return measured


def test_the_lost_node_held_app_replicas(node_loss):
    assert node_loss["held"]


def test_its_replicas_are_rescheduled_on_the_other_nodes(deployment, node_loss):
    lost_id = deployment.cluster.ids[LOST]
    after = node_loss["after"]
    assert len(after) == int(deployment.overrides["appReplicas"])
    assert all(t["NodeID"] != lost_id for t in after)
    # The tasks it held are no longer meant to run.
    held = set(node_loss["held"])
    still = deployment.cluster.host.api.tasks(filters={"desired-state": "running"})
    assert not held & {t["ID"] for t in still}


def test_requests_during_the_node_loss(node_loss):
    result = node_loss["load"]
    assert result.sent > 100
    assert result.failed <= MAX_FAILED, dict(result.failures)


def test_the_node_comes_back_and_the_stack_converges(deployment, node_loss):
    cluster = deployment.cluster
    node = cluster.members[LOST]
    started = time.monotonic()
    node.start()
    wait_until(f"{LOST} ready", lambda: cluster.states()[LOST] == "ready", timeout=120)
    back = time.monotonic() - started
    for name in deployment.outputs["services"].values():
        converge(cluster.host, name, timeout=120)
    # The tasks it held run elsewhere now: it must not start them again (no duplicates).
    stack = {"label": f"org.ora.stack={STACK}"}
    idle = wait_until(
        f"{LOST} runs none of its old tasks",
        lambda: not node.client.containers.list(filters=stack),
        timeout=60,
    )
    print(
        f"\n[swarm] {LOST} back: ready {back:.1f} s after its dockerd started, every service "
        f"converged after {time.monotonic() - started:.1f} s, its old tasks gone after "
        f"{idle:.1f} s more; states {cluster.states()}"
    )
    assert set(cluster.states().values()) == {"ready"}
    assert len(running_replicas(deployment)) == int(deployment.overrides["appReplicas"])


def stack_settled(deployment, timeout: float = 120) -> None:
    """Every node ready and every service converged (the first drill's node is back)."""
    cluster = deployment.cluster
    wait_until("every node ready", lambda: set(cluster.states().values()) == {"ready"}, timeout)
    for name in deployment.outputs["services"].values():
        converge(cluster.host, name, timeout=timeout)


def replicas_onto(deployment, name: str) -> None:
    """Makes sure node `name` runs an app replica. Swarm does not move tasks back to a node
    that returned: a forced update reschedules every replica, spread over the nodes again."""
    cluster, node_id = deployment.cluster, deployment.cluster.ids[name]
    if any(t["NodeID"] == node_id for t in running_replicas(deployment)):
        return
    app = deployment.outputs["services"]["app"]
    subprocess.run(
        ["docker", "service", "update", "--force", "--detach=true", app],
        check=True, capture_output=True,
    )  # fmt: skip
    converge(cluster.host, app, timeout=180)
    wait_until(
        f"a replica on {name} again",
        lambda: any(t["NodeID"] == node_id for t in running_replicas(deployment)),
        timeout=120,
    )


@pytest.fixture(scope="module")
def link_cut(deployment, node_loss):
    """Cuts node 3's link under load, then mends it; returns what was measured."""
    cluster = deployment.cluster
    node = cluster.members[LOST]
    stack_settled(deployment)
    lost_id = cluster.ids[LOST]
    replicas = int(deployment.overrides["appReplicas"])
    replicas_onto(deployment, LOST)
    held = [t for t in running_replicas(deployment) if t["NodeID"] == lost_id]
    held_containers = {t["Status"]["ContainerStatus"]["ContainerID"] for t in held}

    def rescheduled() -> bool:
        tasks = running_replicas(deployment)
        return len(tasks) == replicas and all(t["NodeID"] != lost_id for t in tasks)

    def old_tasks_stopped() -> bool:
        running = {c.id for c in node.client.containers.list(filters={"label": STACK_LABEL})}
        return not running & held_containers

    agent = f"swarm-link-cut-{uuid.uuid4().hex}"
    headers = {**api_key(deployment), "User-Agent": agent}
    try:
        with Load(search_url(deployment), rate=40, threads=4, headers=headers) as load:
            time.sleep(SETTLE_S)
            node.link(up=False)
            down = wait_until(f"{LOST} down", lambda: cluster.states()[LOST] == "down")
            moved = wait_until("the cut-off replicas rescheduled", rescheduled)
            time.sleep(SETTLE_S)
    finally:
        node.link(up=True)
    ready = wait_until(f"{LOST} ready", lambda: cluster.states()[LOST] == "ready", timeout=120)
    # Its old tasks run elsewhere now: back in touch, it stops them (no duplicates).
    stopped = wait_until(f"{LOST} stops its old tasks", old_tasks_stopped, timeout=120)
    measured = {
        "held": held,
        "down_s": down,
        "rescheduled_s": down + moved,
        "back_s": ready,
        "old_stopped_s": ready + stopped,
        "load": load.result,
        "retried_by_nginx": nginx_retries(deployment, agent),
    }
    result = load.result
    print(
        f"\n[swarm] {LOST}'s link cut under load: node down after {down:.1f} s, its "
        f"{len(held)} replica(s) running elsewhere after {down + moved:.1f} s; "
        f"{result.sent} requests, {result.failed} failed {dict(result.failures)}, "
        f"{result.retried} resent; nginx retried {measured['retried_by_nginx']} on another "
        f"replica. Link mended: node ready after {ready:.1f} s, its old tasks stopped after "
        f"{ready + stopped:.1f} s"
    )
    return measured


def test_a_cut_link_held_app_replicas_that_run_elsewhere_after(deployment, link_cut):
    assert link_cut["held"]
    after = running_replicas(deployment)
    assert len(after) == int(deployment.overrides["appReplicas"])


def test_requests_while_a_link_is_cut(link_cut):
    result = link_cut["load"]
    assert result.sent > 100
    assert result.failed <= LINK_CUT_MAX_FAILED_SHARE * result.sent, dict(result.failures)


def test_the_cut_off_node_rejoins_and_the_stack_converges(deployment, link_cut):
    stack_settled(deployment)
    assert set(deployment.cluster.states().values()) == {"ready"}

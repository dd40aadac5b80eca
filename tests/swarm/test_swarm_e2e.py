"""The swarm stack on a real three-node swarm: placement, traffic across nodes, and a
rolling update of the app under load (make swarm-e2e). The loss of a node follows, in
test_swarm_node_loss.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.load import Load
from tests.swarm.probe import cross_node_fetch

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def search_url(deployment, probe: str = "swarm") -> str:
    return f"{deployment.outputs['url']}/api/v1/search?q={probe}&limit=1"


def api_key(deployment) -> dict[str, str]:
    return {"Authorization": f"Bearer {deployment.outputs['devApiKey']}"}


def nodes_of(deployment, service: str) -> set[str]:
    return {task["NodeID"] for task in deployment.tasks(service)}


def test_app_replicas_run_on_every_node(deployment):
    assert nodes_of(deployment, "app") == set(deployment.cluster.ids.values())


@pytest.mark.parametrize("service", ["redis", "qdrant"])
def test_datastores_run_on_the_node_labelled_for_data(deployment, service):
    assert nodes_of(deployment, service) == {deployment.cluster.ids["node2"]}


def test_nginx_runs_on_the_edge_node_only(deployment):
    assert nodes_of(deployment, "nginx") == {deployment.cluster.ids["node1"]}


def test_a_request_through_nginx_reaches_replicas_on_every_node(deployment):
    probe = uuid.uuid4().hex
    # A search: nginx (node 1) -> a replica (any node) -> Qdrant and Redis (node 2).
    url = search_url(deployment)
    headers = {**api_key(deployment), "User-Agent": f"swarm-probe-{probe}"}  # nginx logs it
    # The stack's self-signed certificate; TLS itself is the host e2e's topic.
    with httpx.Client(verify=False, timeout=10, headers=headers) as client:  # noqa: S501
        statuses = [client.get(url).status_code for _ in range(60)]
    assert statuses == [200] * 60
    # nginx logs the replica that answered ($upstream_addr); each replica's address
    # on the edge overlay names its node.
    node_of = {}
    for task in deployment.tasks("app"):
        for attachment in task.get("NetworksAttachments", []):
            for address in attachment["Addresses"]:
                node_of[address.split("/")[0]] = task["NodeID"]
    (edge,) = deployment.tasks("nginx")
    logs = deployment.cluster.host.containers.get(
        edge["Status"]["ContainerStatus"]["ContainerID"]
    ).logs()
    served = {}
    for line in logs.decode().splitlines():
        if probe in line:
            upstream = json.loads(line)["upstream_addr"].split(",")[-1].strip()
            node = node_of.get(upstream.rsplit(":", 1)[0], upstream)
            served[node] = served.get(node, 0) + 1
    print(f"\n[swarm] requests served per node: {served}")
    assert set(served) == set(deployment.cluster.ids.values()), served


def node_containers(deployment) -> dict[str, dict]:
    """node name -> the `containers` of tests/infra's outputs file: the stack's task
    containers on that node (service -> name; app -> a list)."""
    cluster = deployment.cluster
    name_of = {node_id: name for name, node_id in cluster.ids.items()}
    by_node: dict[str, dict] = {name: {} for name in cluster.ids}
    for service in deployment.outputs["services"]:
        for task in deployment.tasks(service):
            found = by_node[name_of[task["NodeID"]]]
            container = task["Status"]["ContainerStatus"]["ContainerID"]
            name = cluster.client(task["NodeID"]).containers.get(container).name
            if service == "app":
                found.setdefault("app", []).append(name)
            else:
                found[service] = name
    return by_node


@pytest.mark.parametrize("node", ["node1", "node2", "node3"])
def test_infra_suite_passes_on_the_node(deployment, node):
    """tests/infra in its own pytest process on each node's engine (DOCKER_HOST), as an
    operator runs it after a deploy; the edge's checks where nginx runs."""
    containers = node_containers(deployment)[node]
    outputs = deployment.workdir / f"infra-outputs-{node}.json"
    outputs.write_text(json.dumps({**deployment.outputs, "containers": containers}))
    env = dict(os.environ)
    if node in deployment.cluster.members:
        env["DOCKER_HOST"] = deployment.cluster.members[node].socket
    edge = "nginx" in containers
    files = (
        ["tests/infra"]
        if edge
        else ["tests/infra/test_containers.py", "tests/infra/test_secrets.py"]
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        *files,
        "--hosts=local://",
        "--stack=swarm",
        f"--stack-outputs={outputs}",
        *[f"--set={k}={v}" for k, v in deployment.overrides.items()],
        "-m",
        "not prod",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    print(f"\n[swarm] tests/infra on {node} ({sorted(containers)}):\n{result.stdout[-5000:]}")
    assert result.returncode == 0, result.stderr[-2000:]


def test_rolling_update_of_the_app_under_load_loses_no_request(deployment):
    with Load(search_url(deployment), rate=40, threads=4, headers=api_key(deployment)) as load:
        seconds = deployment.apply(appImage=deployment.v2)
    result = load.result
    print(
        f"\n[swarm] rollout v1 -> v2 in {seconds:.1f} s under load: {result.sent} requests, "
        f"{result.failed} failed {dict(result.failures)}, {result.retried} resent"
    )
    images = {t["Spec"]["ContainerSpec"]["Image"] for t in deployment.tasks("app")}
    assert images == {deployment.v2}
    assert result.sent > 100 and result.failed == 0


def test_overlay_carries_traffic_across_nodes_and_encryption_is_reported(deployment):
    plain = cross_node_fetch(deployment.cluster, deployment.v1, None)
    encrypted = cross_node_fetch(deployment.cluster, deployment.v1, {"encrypted": ""})
    print(f"\n[swarm] overlay across nodes: plain -> {plain}; --opt encrypted -> {encrypted}")
    assert plain == "200"

"""The swarm stack on a real three-node swarm: placement, traffic across nodes, and a
rolling update of the app under load (make swarm-e2e). The loss of a node follows, in
test_swarm_node_loss.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
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


def test_make_logs_merges_every_service_on_every_node(deployment):
    """`make logs STACK=swarm`: the tasks of every service, on whichever node they run, in
    one list in time order; a request's line from nginx (node 1) among them."""
    probe = uuid.uuid4().hex
    headers = {**api_key(deployment), "User-Agent": f"swarm-logs-{probe}"}
    with httpx.Client(verify=False, timeout=10, headers=headers) as client:  # noqa: S501
        assert client.get(search_url(deployment)).status_code == 200
    command = [sys.executable, "-m", "infra.ops", "logs", "swarm", "--since", "30m"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    tasks = [line.split("  ", 2)[:2] for line in lines]
    hostname = {
        n.id: n.attrs["Description"]["Hostname"] for n in deployment.cluster.host.nodes.list()
    }
    expected_nodes = {
        hostname[task["NodeID"]] for service in ("app", "nginx", "redis", "qdrant")
        for task in deployment.tasks(service)
    }  # fmt: skip
    nodes = {task.rsplit("@", 1)[-1] for task, _ in tasks if "@" in task}
    services = {task.split(".", 1)[0] for task, _ in tasks}
    times = [stamp for _, stamp in tasks]
    print(f"\n[swarm] make logs: {len(lines)} lines from {sorted(services)} on {sorted(nodes)}")
    assert times == sorted(times)
    assert {deployment.outputs["services"][s] for s in ("app", "nginx", "redis")} <= services
    assert nodes == expected_nodes and len(nodes) == deployment.cluster.size
    assert any(probe in line and line.startswith("ora-swarm-nginx.") for line in lines)


def node_containers(deployment, group: str = "services") -> dict[str, dict]:
    """node name -> the `containers` of tests/infra's outputs file: the stack's task
    containers on that node (service -> name; app -> a list). With group "monitoring",
    the same for monitoring's services (its output names services, not containers)."""
    cluster = deployment.cluster
    name_of = {node_id: name for name, node_id in cluster.ids.items()}
    by_node: dict[str, dict] = {name: {} for name in cluster.ids}
    for service in deployment.outputs.get(group, {}):
        for task in deployment.tasks(service, group):
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
    monitoring = node_containers(deployment, "monitoring")[node]
    outputs = deployment.workdir / f"infra-outputs-{node}.json"
    outputs.write_text(
        json.dumps({**deployment.outputs, "containers": containers, "monitoring": monitoring})
    )
    env = dict(os.environ)
    if node in deployment.cluster.members:
        env["DOCKER_HOST"] = deployment.cluster.members[node].socket
    edge = "nginx" in containers
    files = (
        ["tests/infra"]
        if edge
        else [
            f"tests/infra/{name}"
            for name in ("test_containers.py", "test_secrets.py", "test_log_files.py")
        ]
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


def shim_env(deployment, tmp_path: Path) -> dict[str, str]:
    """`pulumi` on PATH for make: tests/e2e/pulumi_shim over this deployment's state (it
    applies a swarm stack with the swarm realizer)."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps(deployment.overrides))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "pulumi"
    shim.write_text(
        f'#!/bin/sh\ncd {REPO} && exec {sys.executable} -m tests.e2e.pulumi_shim "$@"\n'
    )
    shim.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "ORA_SHIM_CONFIG": str(config),
        "ORA_SHIM_PROJECT": str(REPO),
        "ORA_SHIM_STATE": str(deployment.workdir / "state.json"),
        "ORA_SHIM_OUTPUTS": str(deployment.workdir / "outputs.json"),
    }


def make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = ["make", "--silent", "--no-print-directory", *args, "STACK=swarm"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    print(f"\n$ make {' '.join(args)} STACK=swarm -> {done.returncode}")
    print(done.stdout[-3000:] + done.stderr[-2000:])
    return done


def test_make_history_then_rollback_under_load_loses_no_request(deployment, tmp_path):
    """After the rolling update to v2: `make history` lists v2 over v1, and `make rollback`
    puts v1 back on the web and worker services, rolling, under load."""
    assert [e["image"] for e in deployment.outputs["appHistory"][:2]] == [
        deployment.v2,
        deployment.v1,
    ]
    env = shim_env(deployment, tmp_path)
    shown = make("history", env=env)
    assert shown.returncode == 0 and shown.stdout.splitlines()[1].endswith(deployment.v2)
    with Load(search_url(deployment), rate=40, threads=4, headers=api_key(deployment)) as load:
        started = time.monotonic()
        done = make("rollback", env=env)
        seconds = time.monotonic() - started
    result = load.result
    # The stack's config now holds the rollback, as `pulumi config` would.
    deployment.overrides = json.loads((tmp_path / "config.json").read_text())
    deployment.outputs = json.loads((deployment.workdir / "outputs.json").read_text())
    print(
        f"\n[swarm] make rollback v2 -> v1 in {seconds:.1f} s under load: {result.sent} "
        f"requests, {result.failed} failed {dict(result.failures)}, {result.retried} resent"
    )
    assert done.returncode == 0 and f"rolled back to {deployment.v1}" in done.stdout
    for service in ("app", "worker"):
        images = {t["Spec"]["ContainerSpec"]["Image"] for t in deployment.tasks(service)}
        assert images == {deployment.v1}, service
    first = deployment.outputs["appHistory"][0]
    assert (first["image"], first["rollback"]) == (deployment.v1, True)
    assert result.sent > 100 and result.failed == 0


def test_overlay_carries_traffic_across_nodes_and_encryption_is_reported(deployment):
    plain = cross_node_fetch(deployment.cluster, deployment.v1, None)
    encrypted = cross_node_fetch(deployment.cluster, deployment.v1, {"encrypted": ""})
    print(f"\n[swarm] overlay across nodes: plain -> {plain}; --opt encrypted -> {encrypted}")
    assert plain == "200"

"""The swarm e2e session: a real three-node swarm (tests/swarm/cluster.py), the stand-in
images on the nodes that run them, the swarm stack applied by the realizer, and the
machine as it was after. Collected only when asked for by path (`make swarm-e2e`); run it under
`flock /tmp/ora-e2e.lock` like every suite that uses the Docker engine.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from tests.e2e import alerts, engine
from tests.e2e.standins import build
from tests.named import deselect_unless_named
from tests.ports import allocate
from tests.swarm.cluster import Cluster

REPO = Path(__file__).resolve().parents[2]
STACK = "swarm"
APP = "ora-e2e/swarm-app"


def pytest_collection_modifyitems(config, items):
    deselect_unless_named(config, items, Path(__file__).parent)


@dataclass
class SwarmDeployment:
    cluster: Cluster
    workdir: Path
    overrides: dict[str, str]
    outputs: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def https_port(self) -> int:
        return int(self.overrides["httpsPort"])

    def apply(self, **changes: str) -> float:
        self.overrides |= changes
        started = time.monotonic()
        args = [
            sys.executable,
            "-m",
            "tests.swarm.realize_swarm",
            "apply",
            "--project",
            str(REPO),
            "--stack",
            STACK,
            "--state",
            str(self.workdir / "state.json"),
            "--outputs",
            str(self.workdir / "outputs.json"),
            *[f"--set={k}={v}" for k, v in self.overrides.items()],
        ]
        # The apply waits as pulumi-docker does; then, as `make up` does, the rollout check
        # waits for Swarm to finish and fails on an update it rolled back.
        rollout = [sys.executable, "-m", "infra.ops", "rollout", STACK, "--timeout", "300"]
        for command in (args, rollout):
            run = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
            print(run.stdout + run.stderr, end="", flush=True)
            if run.returncode:
                raise subprocess.CalledProcessError(run.returncode, command, run.stdout, run.stderr)
        self.outputs = json.loads((self.workdir / "outputs.json").read_text())
        return time.monotonic() - started

    def tasks(self, service: str, group: str = "services") -> list[dict]:
        """The running tasks of one of the stack's services (of the `group` output:
        services, or monitoring)."""
        name = self.outputs[group][service]
        found = self.cluster.host.api.tasks(filters={"service": name, "desired-state": "running"})
        return [t for t in found if t["Status"]["State"] == "running"]


def app_images(client: docker.DockerClient, wheels: Path, workdir: Path) -> tuple[str, ...]:
    """v1 built from app/ (with the offline wheelhouse), v2 = v1 plus one label: a new
    image for the rolling update; broken = v1 with a command that exits: a release Swarm
    rolls back."""
    context = workdir / "app"
    shutil.rmtree(context, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "wheels")
    shutil.copytree(REPO / "app", context, ignore=ignore)
    shutil.copytree(wheels, context / "wheels", ignore=shutil.ignore_patterns(".complete"))
    started = time.monotonic()
    base = build.base_image_args(context / "Dockerfile")
    client.images.build(path=str(context), tag=f"{APP}:v1", buildargs=base, rm=True)
    dockerfile = f'FROM {APP}:v1\nLABEL org.ora.e2e.version="2"\n'.encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=f"{APP}:v2", rm=True)
    dockerfile = f"FROM {APP}:v1\nCMD {json.dumps(['python', '-c', BROKEN_RELEASE])}\n"
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=f"{APP}:broken", rm=True)
    print(f"[swarm] app images built in {time.monotonic() - started:.1f} s", flush=True)
    return f"{APP}:v1", f"{APP}:v2", f"{APP}:broken"


BROKEN_RELEASE = "raise SystemExit('ora e2e: a release that cannot start')"


def load_images(cluster: Cluster, wanted: dict[str, list[str]]) -> float:
    """The images each node runs, loaded on the nodes at the same time."""
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(wanted)) as pool:
        for done in [pool.submit(cluster.load, node, tags) for node, tags in wanted.items()]:
            done.result()
    return time.monotonic() - started


@pytest.fixture(scope="session")
def alert_relay():
    """The SMTP relay the stack's Alertmanager (on node 1, the manager) sends to, on the
    host's address: its `alerting` overlay reaches it through docker_gwbridge."""
    relay = alerts.start()
    yield relay
    relay.server.stop()


@pytest.fixture(scope="session")
def deployment(alert_relay):
    from infra.config import offline
    from infra.monitoring import specs as monitoring_specs
    from infra.targets.swarm import monitoring as swarm_monitoring

    workdir = Path(os.environ.get("ORA_E2E_WORKDIR", REPO / ".e2e")) / "swarm"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    daemon = engine.start(workdir / "dockerd.log")
    client = docker.from_env(timeout=300)
    images_before = {image.id for image in client.images.list(all=True)}
    networks_before = {network.name for network in client.networks.list()}
    volumes_before = {volume.name for volume in client.volumes.list()}
    cluster = Cluster(workdir, client)
    deployed = None
    started = time.monotonic()
    try:
        cfg = offline(STACK)
        pinned = {"nginx": cfg.images.nginx, "redis": cfg.images.redis, "qdrant": cfg.images.qdrant}
        wheels = build.wheelhouse(
            REPO / "app" / "requirements.txt", constraints=REPO / "app" / "constraints.txt"
        )
        build.build_all(
            client, pinned, REPO / "app" / "Dockerfile", wheels, monitoring_specs.IMAGES
        )
        v1, v2, broken = app_images(client, wheels, workdir)
        timings = {"images": time.monotonic() - started}
        # Formed and labelled by the prod bootstrap's scripts (cluster.FORMED_NODES): node 1
        # is the edge; node 2 holds the data, so placement must move Redis and Qdrant off
        # the manager to where their volumes are; node 3 is the node the test loses.
        timings["swarm"] = cluster.up()
        local = [build.local_tag(pinned[s]) for s in ("redis", "qdrant")]
        # Monitoring's services that may run on any node (global, or unconstrained).
        anywhere = [
            build.local_tag(monitoring_specs.IMAGES[name])
            for name, placement in swarm_monitoring.PLACEMENT.items()
            if swarm_monitoring.MANAGER not in placement.constraints
        ]
        apps = [v1, v2, broken, *anywhere]
        timings["load"] = load_images(cluster, {"node2": [*apps, *local], "node3": apps})
        http, https = allocate(), allocate()
        overrides = build.nginx_versions(client, build.local_tag(cfg.images.nginx))
        overrides |= {
            "appImage": v1,
            # One replica per node; a lost node's replica fits on the others (max 2 each).
            "appReplicas": str(cluster.size),
            "httpPort": str(http),
            "httpsPort": str(https),
            "rateLimit": "200r/s",
            "rateLimitBurst": "400",
            # Monitoring as in the host e2e: no Grafana stand-in, short timings, the relay.
            "grafana": "false",
            "monitoringTiming": "test",
            **alert_relay.overrides,
        }
        deployed = SwarmDeployment(cluster, workdir, overrides, timings=timings)
        deployed.v1, deployed.v2, deployed.broken = v1, v2, broken
        timings["converge"] = deployed.apply()
        print(f"\n[swarm] timings (s): {json.dumps({k: round(v, 1) for k, v in timings.items()})}")
        yield deployed
    finally:
        problems = teardown(cluster, workdir, images_before, networks_before, volumes_before)
        client.close()
        engine.stop(daemon)
        print(f"[swarm] session {time.monotonic() - started:.1f} s", flush=True)
        if problems:
            pytest.fail(f"the host was not left as found: {problems}")


def teardown(cluster, workdir, images_before, networks_before, volumes_before) -> list[str]:
    """Every step runs, whatever failed before it."""
    problems = []
    client = cluster.host
    state = workdir / "state.json"
    try:
        if state.exists():
            from tests.swarm.realize_swarm import destroy

            destroy(state)
    except Exception as error:  # the swarm goes anyway, and its objects with it
        problems.append(f"destroy: {error}")
    problems += cluster.down()
    for network in client.networks.list():
        if network.name not in networks_before:  # docker_gwbridge, left by the swarm
            try:
                network.remove()
            except docker.errors.APIError as error:
                problems.append(f"network {network.name}: {error}")
    for volume in client.volumes.list():
        if volume.name not in volumes_before:
            volume.remove(force=True)
    if not os.environ.get("ORA_E2E_KEEP_IMAGES"):
        for image in client.images.list(all=True):
            if image.id not in images_before:
                # A parent layer may have gone with its child already.
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(image.id, force=True)
    return problems

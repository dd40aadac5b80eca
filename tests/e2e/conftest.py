"""The e2e session: an engine, the stand-ins, the dev stack applied, a clean machine after.

Collected only when asked for by path (`pytest tests/e2e`, `make e2e`).
Environment: ORA_E2E_CACHE (rootfs + wheels, default /var/cache/ora-e2e),
ORA_E2E_WORKDIR (state, project copies, logs; default <repo>/.e2e).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.e2e import alerts, engine, pulumi_cli
from tests.e2e.realize import (
    StaleEndpoints,
    removal_rank,
    remove,
    remove_network,
    wait_healthy,
)
from tests.e2e.standins import build
from tests.named import deselect_unless_named

REPO = Path(__file__).resolve().parents[2]
STACK = "dev"
PROJECT_PARTS = (
    "infra",
    "app",
    "nginx_templates",
    "monitoring_templates",
    "Pulumi.yaml",
    f"Pulumi.{STACK}.yaml",
)


def pytest_collection_modifyitems(config, items):
    deselect_unless_named(config, items, Path(__file__).parent)


@dataclass
class Deployment:
    workdir: Path
    outputs: dict
    outputs_file: Path
    overrides: dict[str, str]
    standins: list[build.StandIn]
    client: docker.DockerClient
    green_seconds: float = 0.0

    @property
    def containers(self) -> list[str]:
        names = self.outputs["containers"]
        monitoring = list(self.outputs.get("monitoring", {}).values())
        core = [names["nginx"], names["redis"], names["qdrant"], names["worker"], *names["app"]]
        return core + monitoring

    def apply(self, project: Path) -> float:
        self.project = project
        started = time.monotonic()
        if pulumi_cli.available():
            self.outputs = pulumi_cli.up(project, STACK, self.workdir, self.overrides)
            self.outputs_file.write_text(json.dumps(self.outputs, indent=2))
        else:
            args = [
                sys.executable,
                "-m",
                "tests.e2e.realize",
                "apply",
                "--project",
                str(project),
                "--stack",
                STACK,
                "--state",
                str(self.workdir / "state.json"),
                "--outputs",
                str(self.outputs_file),
            ]
            args += [f"--set={k}={v}" for k, v in self.overrides.items()]
            run = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
            print(run.stdout + run.stderr, end="", flush=True)
            if run.returncode:
                raise subprocess.CalledProcessError(run.returncode, args, run.stdout, run.stderr)
            self.outputs = json.loads(self.outputs_file.read_text())
        for name in self.containers:
            wait_healthy(self.client, name, 120)
        return time.monotonic() - started


def project_copy(workdir: Path, name: str, wheels: Path) -> Path:
    """The program and app/ as they are in the repo, plus the offline wheelhouse; the
    repo itself is never written to."""
    target = workdir / name
    shutil.rmtree(target, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "wheels")
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=ignore)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)
    shutil.copytree(wheels, target / "app" / "wheels", ignore=shutil.ignore_patterns(".complete"))
    return target


def sweep(client: docker.DockerClient, remove_images: bool, strict: bool = True) -> None:
    """Removes everything of the stack by label and name, whatever state says.

    A network goes once every container on it is gone, labelled or not (one that is not
    is named: nothing of the e2e should run unlabelled). A network the engine still counts
    a stale endpoint on (Docker 20.10, seen once in CI after a session's teardown) fails
    the sweep before a session (`strict`), and is reported after one: the next session's
    engine start or sweep meets it again."""
    for container in client.containers.list(all=True, filters={"label": f"org.ora.stack={STACK}"}):
        container.remove(force=True)
    for container in client.containers.list(all=True, filters={"label": "org.ora.e2e=true"}):
        container.remove(force=True)
    for network in client.networks.list(names=[f"ora-{STACK}-"]):
        for container in client.containers.list(all=True, filters={"network": network.id}):
            print(f"[e2e] unlabelled {container.name} on {network.name}: removed", flush=True)
            container.remove(force=True)
        try:
            remove_network(client, network.id)
        except StaleEndpoints as error:
            if strict:
                raise
            print(f"[e2e] LEFT BEHIND: {error}", flush=True)
    for volume in client.volumes.list(filters={"label": f"org.ora.stack={STACK}"}):
        volume.remove(force=True)
    if remove_images:
        for image in client.images.list():
            if (
                any(t.startswith(("ora-app:", "ora-e2e/")) for t in image.tags)
                or image.labels.get("org.ora.standin") == "true"
            ):
                try:
                    client.images.remove(image.id, force=True)
                except docker.errors.APIError as error:  # used by a container not ours
                    print(f"[e2e] image {image.tags} kept: {error.explanation}", flush=True)
        client.images.prune(filters={"dangling": True})


@pytest.fixture(scope="session")
def workdir() -> Path:
    path = Path(os.environ.get("ORA_E2E_WORKDIR", REPO / ".e2e"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def docker_client(workdir):
    daemon = engine.start(workdir / "dockerd.log")
    client = docker.from_env(timeout=300)
    yield client
    client.close()
    engine.stop(daemon)


@pytest.fixture(scope="session")
def wheels() -> Path:
    return build.wheelhouse(
        REPO / "app" / "requirements.txt", constraints=REPO / "app" / "constraints.txt"
    )


@pytest.fixture(scope="session")
def alert_relay():
    """The SMTP relay the stack's Alertmanager sends to, up before the stack is applied."""
    relay = alerts.start()
    yield relay
    relay.server.stop()


@pytest.fixture(scope="session")
def deployment(docker_client, workdir, wheels, alert_relay):
    from infra.config import offline
    from infra.monitoring import specs as monitoring_specs

    cfg = offline(STACK)
    pinned = {"nginx": cfg.images.nginx, "redis": cfg.images.redis, "qdrant": cfg.images.qdrant}
    sweep(docker_client, remove_images=False)
    (workdir / "state.json").unlink(missing_ok=True)
    project = project_copy(workdir, "project-v1", wheels)
    standins = build.build_all(
        docker_client, pinned, project / "app" / "Dockerfile", wheels, monitoring_specs.IMAGES
    )
    # The stack config names the nginx it runs (syntax adapts to it): say what the stand-in is.
    overrides = build.nginx_versions(docker_client, build.local_tag(cfg.images.nginx))
    # Docker's userland proxy (dockerd --iptables=false here) shows every client to nginx
    # as one address, so the load tests' several clients share one per-IP API budget.
    overrides |= {"rateLimit": "200r/s", "rateLimitBurst": "400"}
    # Monitoring: Grafana has no stand-in (build.NO_STANDIN); short timings, and the relay.
    overrides |= {"grafana": "false", "monitoringTiming": "test", **alert_relay.overrides}
    # node-exporter's textfile dir: the e2e's own, not the host's (tests/e2e/test_monitoring.py).
    overrides["backupTextfileDir"] = str(workdir / "textfile")
    shown = {k: v for k, v in overrides.items() if k not in ("smtpPassword", "smtpCaCertificate")}
    print(f"\n[e2e] config overrides: {shown}", flush=True)
    started = time.monotonic()
    docker_client.images.build(
        path=str(project / "app"),
        tag="ora-e2e/app-prebuild",
        buildargs=build.base_image_args(project / "app" / "Dockerfile"),
        rm=True,
    )
    print(f"[e2e] app image pre-built (layer cache) in {time.monotonic() - started:.1f} s")
    deployed = Deployment(workdir, {}, workdir / "outputs.json", overrides, standins, docker_client)
    try:
        deployed.green_seconds = deployed.apply(project)
        yield deployed
    finally:
        if pulumi_cli.available():
            pulumi_cli.destroy(project, STACK, workdir)
        state = workdir / "state.json"
        if state.exists():
            # Containers first (removal_rank), so networks and volumes are free to go; the
            # sweep after it catches what no state names.
            for entry in sorted(json.loads(state.read_text()).values(), key=removal_rank):
                try:
                    remove(docker_client, entry)
                except docker.errors.APIError as error:  # e.g. a network a stray still uses
                    print(f"[e2e] left to the sweep: {entry['id'][:19]}: {error}", flush=True)
            state.unlink()
        sweep(docker_client, remove_images=not os.environ.get("ORA_E2E_KEEP_IMAGES"), strict=False)

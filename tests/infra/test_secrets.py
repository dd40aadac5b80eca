"""Secrets on the host: files a service alone can read, never a container's environment.

Anyone who can reach the Docker socket reads `Config.Env` with `docker inspect`, so no
container of the stack (services and one-shot secrets writers alike) may carry a secret
there. The values to look for are read from the secret files themselves.
"""

from __future__ import annotations

import pytest

from infra.monitoring import specs as monitoring_specs
from infra.services import nginx
from infra.targets.host import oneshot, secret_files
from tests.infra.mounts import mounts_at, writable

# service -> the UID its secret files belong to (the declared user; Qdrant runs as root).
# nginx reads no secret file: its certificate key is part of the edge release.
OWNER = {"redis": "999", "qdrant": "0", "worker": "10001", "app": "10001"}


def owner_of(service: str, swarm: bool = False) -> str | None:
    # On swarm, nginx reads its certificate from two Swarm secrets (infra/targets/swarm/nginx.py).
    if swarm and service == "nginx":
        return nginx.UID
    return OWNER.get(service.split("-")[0])


# Secret files anyone in the container may read: the certificate chain is public.
PUBLIC = ("fullchain.pem",)


def _secret_files(host, container_name: str) -> dict[str, str]:
    listing = host.check_output(
        "docker exec %s find %s -maxdepth 1 -type f", container_name, secret_files.MOUNT
    )
    return {
        path: host.check_output("docker exec %s cat %s", container_name, path)
        for path in listing.split()
    }


@pytest.fixture(scope="module")
def secret_values(host, outputs) -> set[str]:
    names = outputs["containers"]
    # On swarm, the node under test runs some of them (every node runs an app replica).
    readers = [names[s] for s in ("redis", "qdrant", "worker") if s in names]
    values = set()
    for name in [*readers, *names.get("app", [])]:
        for text in _secret_files(host, name).values():
            values |= {line for line in text.splitlines() if line and not line.startswith("#")}
    assert values, "no secret file found: the secrets volumes are empty"
    return values


@pytest.fixture(scope="module")
def stack_containers(host, cfg) -> list[str]:
    listed = host.check_output(
        "docker ps -a --filter label=org.ora.stack=%s --format '{{.Names}}'", cfg.stack
    )
    return listed.split()


def test_no_container_environment_holds_a_secret(host, stack_containers, secret_values):
    for name in stack_containers:
        env = host.docker(name).inspect()["Config"]["Env"] or []
        leaked = [e.split("=", 1)[0] for e in env if any(v in e for v in secret_values)]
        assert not leaked, f"{name}: secret values in Config.Env: {leaked}"


def test_secret_files_are_0400_and_the_services_own(host, cfg, service, container_name):
    owner = owner_of(service, cfg.swarm.enabled)
    listing = host.run(
        "docker exec %s sh -c 'stat -c \"%%a %%u %%n\" %s/*'", container_name, secret_files.MOUNT
    )
    rows = [line.split() for line in listing.stdout.splitlines() if line.strip()]
    if owner is None:
        assert listing.rc != 0 and not rows, f"{container_name} has secret files: {rows}"
        return
    assert rows, f"{container_name}: no secret files ({listing.stderr})"
    for mode, uid, path in rows:
        expected = "444" if path.rsplit("/", 1)[-1] in PUBLIC else "400"
        assert (mode, uid) == (expected, owner), f"{container_name}: {path} is {mode} uid {uid}"


@pytest.mark.host_only("Swarm mounts each secret as a read-only file of its own, not a volume")
def test_secrets_volume_is_mounted_read_only(host, service, container_name):
    mounts = host.docker(container_name).inspect()["Mounts"]
    secrets = [m["RW"] for m in mounts if m["Destination"] == secret_files.MOUNT]
    assert secrets == ([False] if owner_of(service) else []), f"{container_name}: {mounts}"


def test_secret_files_are_on_read_only_mounts(host, cfg, service, container_name):
    """The secrets volume (one host) or each Swarm secret's own file (swarm) is mounted
    read-only, as the container's kernel reports its mounts: no process rewrites one."""
    mounts = mounts_at(host, container_name, secret_files.MOUNT)
    if owner_of(service, cfg.swarm.enabled) is None:
        assert not mounts, f"{container_name}: secret mounts {sorted(mounts)}"
        return
    assert mounts, f"{container_name}: nothing mounted at {secret_files.MOUNT}"
    assert writable(mounts) == [], f"{container_name}: writable secret mounts"


@pytest.mark.host_only("no one-shot installers: secrets and nginx's files are Swarm objects")
def test_installers_ran_and_kept_no_copy(host, cfg, outputs):
    """The one-shot installers (three secrets writers, the edge's config) exited 0 and
    deleted what they were given."""
    listed = host.check_output(
        "docker ps -a --filter label=org.ora.stack=%s --filter label=org.ora.role=%s "
        "--format '{{.Names}} {{.Label \"org.ora.service\"}}'",
        cfg.stack,
        oneshot.ROLE,
    )
    installers = dict(line.split() for line in listed.splitlines())
    # One run per installer: a replaced run (a new name, created first) is deleted at the
    # end of the update that replaced it.
    services = sorted(installers.values())
    assert len(services) == len(set(services)), installers
    # the edge's config and three secrets writers; with monitoring deployed, its config and
    # one secrets writer per deployed monitoring service that reads a secret (the stack's
    # outputs name what was deployed: an e2e or an operator may have turned Grafana off; the
    # deploy may have SMTP auth that the stack file has not, so the file's readers are a floor)
    deployed = set(outputs.get("monitoring") or {})
    core = {"nginx-config", "app-secrets", "redis-secrets", "qdrant-secrets"}
    readers = {s.name for s in monitoring_specs.services(cfg) if s.secrets} & deployed
    floor = core | (
        {"monitoring-config"} | {f"{s}-secrets" for s in readers} if deployed else set()
    )
    ceiling = core | {"monitoring-config"} | {f"{s}-secrets" for s in deployed}
    assert floor <= set(services) <= ceiling, installers
    for name in installers:
        state = host.docker(name).inspect()["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 0), f"{name}: {state}"
        copied = host.run("docker cp %s:%s -", name, secret_files.STAGING)
        assert copied.rc != 0, f"{name} still holds {secret_files.STAGING}"

"""Builds the stand-in images from Debian packages, and the offline wheelhouse.

No registry is reachable, so every image the stack pins is replaced by a
stand-in with the same ports, paths, users and entrypoint, labelled
`org.ora.standin=true` and tagged with the stack's reference minus its digest.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

HERE = Path(__file__).resolve().parent
SUITE = "bookworm"
MIRROR = os.environ.get("ORA_E2E_DEBIAN_MIRROR", "http://deb.debian.org/debian")
STANDIN_PACKAGES = (
    "python3",
    "python3-venv",
    "ca-certificates",
    "nginx-light",
    "curl",
    "redis-server",
    "redis-tools",
    "openssl",
    "procps",
)
HOST_PACKAGES = (
    "docker.io",
    "nftables",
    "logrotate",
    "procps",
    "python3",
    "restic",
    "openssh-server",
    "unattended-upgrades",
)
# The pinned nginx 1.29.1 / OpenSSL 3.5 renders `upstream ... resolve`, `http2 on` and
# ML-KEM, which bookworm's nginx 1.22 / OpenSSL 3.0 cannot run. Debian sid's nginx
# (1.30, OpenSSL 3.6) can, so the e2e deploys the production rendering unchanged.
NGINX_SUITE = "sid"
NGINX_PACKAGES = ("nginx", "curl", "openssl", "ca-certificates")
# Every monitoring image but Grafana's (in no Debian suite): one rootfs, one build target
# per image (standins/monitoring/Dockerfile).
MONITORING_PACKAGES = (
    "prometheus",
    "prometheus-alertmanager",
    "prometheus-node-exporter",
    "prometheus-blackbox-exporter",
    "prometheus-redis-exporter",
    "mtail",
    "wget",
    "ca-certificates",
)
NO_STANDIN = frozenset({"grafana"})  # the e2e stack runs with ora:grafana false


@dataclass(frozen=True)
class StandIn:
    reference: str  # what the stack pins
    tag: str  # the local tag the stand-in carries
    description: str


def cache_dir() -> Path:
    path = Path(os.environ.get("ORA_E2E_CACHE", "/var/cache/ora-e2e"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def local_tag(ref: str) -> str:
    name = ref.split("@", 1)[0]
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def rootfs(name: str, packages: tuple[str, ...], suite: str = SUITE) -> Path:
    """A debootstrap minbase tree of `suite` with `packages`, cached by its package list."""
    target = cache_dir() / f"rootfs-{name}"
    marker = target / ".ora-packages"
    wanted = f"{suite}:" + ",".join(packages)
    if marker.exists() and marker.read_text() == wanted:
        return target
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"[standins] debootstrap {wanted} (about a minute)", flush=True)
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(packages)}",
            suite,
            str(tmp),
            MIRROR,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (tmp / ".ora-packages").write_text(wanted)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def imported(
    client: docker.DockerClient, name: str, packages: tuple[str, ...], suite: str = SUITE
) -> str:
    """`tar -C ROOTFS -c . | docker import - TAG`, skipped when the tag exists."""
    digest = hashlib.sha256(f"{suite}:{','.join(packages)}".encode()).hexdigest()[:10]
    tag = f"ora-e2e/{name}:{digest}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    tree = rootfs(name, packages, suite)
    tar = subprocess.Popen(
        ["tar", "-C", str(tree), "--exclude=./.ora-packages", "-c", "."], stdout=subprocess.PIPE
    )
    subprocess.run(
        ["docker", "import", "-", tag], stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL
    )
    tar.stdout.close()
    if tar.wait():
        raise RuntimeError(f"tar of {tree} failed")
    return tag


# Debian bookworm's python3 is 3.11.2; redis needs async-timeout below 3.11.3, a marker
# pip evaluates against the host's interpreter, not --python-version.
CONTAINER_ONLY = ("async-timeout>=4.0.3",)


def wheelhouse(
    *requirements: Path, constraints: Path | None = None, extra: tuple[str, ...] = CONTAINER_ONLY
) -> Path:
    """Wheels for the containers' Python 3.11 (Debian bookworm), downloaded on the host."""
    key = hashlib.sha256(
        b"".join(
            r.read_bytes() for r in (*requirements, *[c for c in [constraints] if c and c.exists()])
        )
        + ",".join(extra).encode()
    )
    target = cache_dir() / f"wheels-{key.hexdigest()[:12]}"
    if (target / ".complete").exists():
        return target
    args = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--python-version",
        "3.11",
        "--platform",
        "manylinux2014_x86_64",
        "--platform",
        "manylinux_2_28_x86_64",
        "--platform",
        "linux_x86_64",
        "-d",
        str(target),
    ]
    for req in requirements:
        args += ["-r", str(req)]
    if constraints and constraints.exists():
        args += ["-c", str(constraints)]
    subprocess.run([*args, *extra], check=True)
    (target / ".complete").write_text("")
    return target


def base_image_args(dockerfile: Path) -> dict[str, str]:
    """Build args that put the stand-in under a Dockerfile's digest-pinned base: an engine
    here has the stand-in by tag only (a digest cannot be a local tag), and pulls nothing."""
    ref = dockerfile_base_image(dockerfile)
    if "@" not in ref:
        return {}
    print(f"[standins] STAND-IN: base image {ref} -> {local_tag(ref)}", flush=True)
    return {"BASE_IMAGE": local_tag(ref)}


def dockerfile_base_image(dockerfile: Path) -> str:
    match = re.search(r"^ARG\s+BASE_IMAGE=(\S+)", dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError(f"{dockerfile} declares no `ARG BASE_IMAGE=default`")
    return match.group(1)


def _build(
    client,
    directory: Path,
    base: str,
    tag: str,
    extra: dict[str, Path] | None = None,
    target: str | None = None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="ora-standin-") as tmp:
        context = Path(tmp) / "ctx"
        shutil.copytree(directory, context, ignore=shutil.ignore_patterns("__pycache__"))
        for name, source in (extra or {}).items():
            shutil.copytree(source, context / name)
        client.images.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE": base},
            rm=True,
            forcerm=True,
            target=target,
        )


def build_monitoring(client: docker.DockerClient, pinned: dict[str, str]) -> list[StandIn]:
    """One stand-in per monitoring image (by service name) that has a Debian package."""
    base = imported(client, "standin-monitoring", MONITORING_PACKAGES)
    made = []
    for service, reference in sorted(pinned.items()):
        if service in NO_STANDIN:
            continue
        tag = local_tag(reference)
        _build(client, HERE / "monitoring", base, tag, target=service)
        made.append(StandIn(reference, tag, _description(client, tag)))
    return made


def build_all(
    client: docker.DockerClient,
    pinned: dict[str, str],
    app_dockerfile: Path,
    wheels: Path,
    monitoring: dict[str, str] | None = None,
) -> list[StandIn]:
    """Builds nginx, redis, qdrant, the app's python base and the monitoring images;
    returns what stands in for what."""
    base = imported(client, "standins", STANDIN_PACKAGES)
    bases = {"nginx": imported(client, "standin-nginx", NGINX_PACKAGES, NGINX_SUITE)}
    made = []
    for service in ("nginx", "redis", "qdrant"):
        tag = local_tag(pinned[service])
        extra = {"wheels": wheels} if service == "qdrant" else None
        _build(client, HERE / service, bases.get(service, base), tag, extra)
        made.append(StandIn(pinned[service], tag, _description(client, tag)))
    python_ref = dockerfile_base_image(app_dockerfile)
    _build(client, HERE / "python", base, local_tag(python_ref))
    made.append(
        StandIn(python_ref, local_tag(python_ref), _description(client, local_tag(python_ref)))
    )
    made += build_monitoring(client, monitoring or {})
    for item in made:
        print(
            f"[standins] STAND-IN: {item.reference} -> {item.tag}: {item.description}", flush=True
        )
    return made


def _description(client, tag: str) -> str:
    return client.images.get(tag).labels.get("org.ora.standin.description", "")


def nginx_versions(client: docker.DockerClient, tag: str) -> dict[str, str]:
    """The stand-in's real nginx and OpenSSL versions, for ora:nginxVersion/opensslVersion."""
    out = client.containers.run(
        tag, ["nginx", "-V"], remove=True, stderr=True, stdout=True
    ).decode()
    nginx = re.search(r"nginx/(\d+\.\d+\.\d+)", out).group(1)
    openssl = re.search(
        r"running with OpenSSL (\d+\.\d+\.\d+)|built with OpenSSL (\d+\.\d+\.\d+)", out
    )
    return {"nginxVersion": nginx, "opensslVersion": openssl.group(1) or openssl.group(2)}

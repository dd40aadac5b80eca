"""Secrets as files: every service reads its secrets from a read-only volume, never from
its environment (`docker inspect` shows a container's environment to anyone who can
reach the Docker socket).

Docker refuses uploads into a read-only root filesystem, and Docker's own secrets are
a Swarm feature. So each service gets a one-shot *writer*: a container of the service's
own image, with no network, that receives the files as uploads, installs them into the
service's secrets volume (mode 0400, owned by the service's UID), deletes its own
copies and exits. The service mounts that volume read-only at /run/secrets and carries
the writer's revision, so a changed secret replaces the service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.targets.host import containers, oneshot

MOUNT = topology.SECRETS_DIR
STAGING = "/staging"  # where the writer receives its uploads
TARGET = "/secrets"  # where the writer mounts the service's secrets volume
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


path = topology.secret_path


def install_script(
    names: tuple[str, ...], owner: str, staging: str = STAGING, target: str = TARGET
) -> str:
    """The writer's shell: each file lands under a temporary name and is renamed into
    place (a reader never sees half a file); files no longer declared are removed; the
    staged copies are deleted so the exited writer keeps no secret."""
    bad = [n for n in names if not NAME.match(n)]
    if bad or not names:
        raise ValueError(f"secret file names must match {NAME.pattern}: {bad or '(none)'}")
    if not re.fullmatch(r"\d+(:\d+)?", owner):
        raise ValueError(f"owner must be UID[:GID], not {owner!r}")
    lines = ["set -eu", "umask 077", f"cd {target}"]
    for name in names:
        lines.append(
            f"cp {staging}/{name} .{name}.tmp && chmod 0400 .{name}.tmp"
            f" && chown {owner} .{name}.tmp && mv -f .{name}.tmp {name}"
        )
    keep = "|".join(names)
    lines += [
        'for f in * .[!.]*; do [ -e "$f" ] || continue',
        f'  case "$f" in {keep}) ;; *) rm -f -- "$f" ;; esac',
        "done",
        "chmod 0755 .",
        f"rm -rf {staging}",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SecretFilesArgs:
    stack: str
    service: str
    image_id: pulumi.Input[str]
    owner: str  # UID:GID the service runs as
    volume: docker.Volume
    files: Mapping[str, pulumi.Input[str]]  # file name -> secret Output


def writer(name: str, args: SecretFilesArgs, parent: pulumi.Resource) -> docker.Container:
    """The one-shot container that fills `args.volume` (infra/targets/host/oneshot.py)."""
    names = tuple(sorted(args.files))
    spec = oneshot.OneShot(
        stack=args.stack,
        service=f"{args.service}-secrets",
        image_id=args.image_id,
        script=install_script(names, args.owner),
        uploads=[
            containers.upload(f"{STAGING}/{file}", pulumi.Output.secret(value), mode=0o400)
            for file, value in sorted(args.files.items())
        ],
        volumes=[docker.ContainerVolumeArgs(volume_name=args.volume.name, container_path=TARGET)],
    )
    return oneshot.container(name, spec, parent)


revision = oneshot.revision


def mount(volume: docker.Volume) -> docker.ContainerVolumeArgs:
    """The service's view of its secrets: read-only."""
    return docker.ContainerVolumeArgs(volume_name=volume.name, container_path=MOUNT, read_only=True)

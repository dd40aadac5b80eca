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

from infra import hardening

MOUNT = "/run/secrets"
STAGING = "/staging"  # where the writer receives its uploads
TARGET = "/secrets"  # where the writer mounts the service's secrets volume
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
WRITER_MEMORY_MB = 32
# chown to the service's UID is the one privilege the writer needs.
WRITER_CAPABILITIES = ("CHOWN",)
ROLE = "secrets-writer"  # the org.ora.role label: a one-shot container, not a service


def path(name: str) -> str:
    """Where a service finds secret `name`."""
    return f"{MOUNT}/{name}"


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
    """The one-shot container that fills `args.volume`; Pulumi waits for it to exit
    (`attach`), and `revision` below fails the update if it did not exit 0."""
    names = tuple(sorted(args.files))
    return docker.Container(
        name,
        name=f"ora-{args.stack}-{args.service}-secrets",
        image=args.image_id,
        user="0:0",
        entrypoints=["sh", "-c"],
        command=[install_script(names, args.owner)],
        network_mode="none",
        uploads=[
            hardening.upload(f"{STAGING}/{file}", pulumi.Output.secret(value), mode=0o400)
            for file, value in sorted(args.files.items())
        ],
        volumes=[docker.ContainerVolumeArgs(volume_name=args.volume.name, container_path=TARGET)],
        capabilities=docker.ContainerCapabilitiesArgs(
            drops=["ALL"], adds=list(WRITER_CAPABILITIES)
        ),
        security_opts=["no-new-privileges:true"],
        memory=WRITER_MEMORY_MB,
        memory_swap=WRITER_MEMORY_MB,
        ulimits=[docker.ContainerUlimitArgs(name="nproc", soft=64, hard=64)],
        log_driver="json-file",
        log_opts=dict(hardening.LOG_OPTS),
        labels=hardening.labels(f"{args.service}-secrets", args.stack, role=ROLE),
        restart="no",
        attach=True,
        must_run=False,
        # A fixed name: the old writer (long exited) goes before its replacement runs.
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
    )


def revision(container: docker.Container) -> pulumi.Output[str]:
    """The writer's identity, for the service's name or labels: a new writer (a changed
    secret) means a new service container. Fails the update if the writer failed."""
    return pulumi.Output.all(container.id, container.exit_code).apply(
        lambda values: checked_revision(*values)
    )


def checked_revision(container_id: str | None, exit_code: int | None) -> str:
    if exit_code not in (None, 0):
        raise RuntimeError(
            f"the secrets writer {container_id} exited with {exit_code}: the service's "
            f"secrets were not installed. Fix: docker logs {container_id}, then pulumi up again"
        )
    return (container_id or "")[:12]


def mount(volume: docker.Volume) -> docker.ContainerVolumeArgs:
    """The service's view of its secrets: read-only."""
    return docker.ContainerVolumeArgs(volume_name=volume.name, container_path=MOUNT, read_only=True)

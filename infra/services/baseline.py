"""The baseline every container gets, as plain data (no resources created here).

`baseline(...)` returns keyword arguments for `docker.Container`: json-file logs
rotated at 1 MB x 3, a restart policy, a healthcheck, every capability dropped
except those named, no-new-privileges, memory and process limits, a read-only
root filesystem with tmpfs scratch space, and labels that tests/infra and the
e2e harness select containers by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology

LOG_OPTS = {"max-size": "1m", "max-file": "3"}
RESTART = "unless-stopped"


@dataclass(frozen=True)
class Healthcheck:
    test: Sequence[str]
    interval: str = "10s"
    timeout: str = "5s"
    retries: int = 3
    start_period: str = "20s"
    start_interval: str = "1s"

    def args(self) -> docker.ContainerHealthcheckArgs:
        return docker.ContainerHealthcheckArgs(
            tests=list(self.test),
            interval=self.interval,
            timeout=self.timeout,
            retries=self.retries,
            start_period=self.start_period,
            start_interval=self.start_interval,
        )


@dataclass(frozen=True)
class Baseline:
    service: str
    stack: str
    memory_mb: int
    healthcheck: Healthcheck
    max_processes: int = 256
    max_open_files: int | None = None
    cap_add: Sequence[str] = ()
    read_only: bool = True
    tmpfs: Mapping[str, str] | None = None
    stop_timeout: int = 30
    # The revision of the secrets the service reads (infra/targets/host/secret_files.py): a new one
    # replaces the container.
    secrets_revision: pulumi.Input[str] | None = None


def labels(
    service: str, stack: str, role: str | None = None, revision: pulumi.Input[str] | None = None
) -> list[docker.ContainerLabelArgs]:
    """`role` marks one-shot containers; `revision` ties a service to the secrets it read."""
    values = {
        topology.PROJECT_LABEL: topology.PROJECT,
        topology.STACK_LABEL: stack,
        topology.SERVICE_LABEL: service,
    }
    if role:
        values[topology.ROLE_LABEL] = role
    if revision is not None:
        values[topology.SECRETS_REVISION_LABEL] = revision
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in values.items()]


def container_args(spec: Baseline) -> dict:
    """Keyword arguments shared by every docker.Container of the stack."""
    return {
        "restart": RESTART,
        "log_driver": "json-file",
        "log_opts": dict(LOG_OPTS),
        "healthcheck": spec.healthcheck.args(),
        "capabilities": docker.ContainerCapabilitiesArgs(
            drops=["ALL"], adds=sorted(spec.cap_add) or None
        ),
        "security_opts": ["no-new-privileges:true"],
        "memory": spec.memory_mb,
        # Swap would let a leaking process outlive its limit on a slow disk.
        "memory_swap": spec.memory_mb,
        # pulumi-docker 5.x has no pids_limit input; RLIMIT_NPROC bounds fork bombs instead.
        "ulimits": _ulimits(spec),
        "read_only": spec.read_only,
        "tmpfs": dict(spec.tmpfs or {"/tmp": "rw,noexec,nosuid,size=64m"}),
        "labels": labels(spec.service, spec.stack, revision=spec.secrets_revision),
        "stop_timeout": spec.stop_timeout,
        # How pulumi-docker stops a container it deletes (a replacement or a destroy):
        # unset, it stops with 0 s, and gunicorn, nginx or redis's last fsync are cut off.
        "destroy_grace_seconds": spec.stop_timeout,
        # Wait for the healthcheck before Pulumi reports the container created,
        # so a replacement is healthy before the old one is removed.
        "wait": True,
        "wait_timeout": 120,
        "must_run": True,
        # Anonymous volumes an image declares (VOLUME) go with their container.
        "remove_volumes": True,
    }


def _ulimits(spec: Baseline) -> list[docker.ContainerUlimitArgs]:
    limits = {"nproc": spec.max_processes, "nofile": spec.max_open_files}
    return [
        docker.ContainerUlimitArgs(name=name, soft=value, hard=value)
        for name, value in limits.items()
        if value is not None
    ]


def upload(
    path: str, content, *, mode: int = 0o444, owner: str | None = None
) -> docker.ContainerUploadArgs:
    """A file written into the container before it starts; `content` may be a secret Output.
    pulumi-docker refuses an upload with empty content when it creates the container, so
    the update fails here instead, naming the file, before anything is replaced."""
    return docker.ContainerUploadArgs(
        file=path,
        content=pulumi.Output.from_input(content).apply(lambda text: non_empty(path, text)),
        permissions=f"{mode:04o}",
        owner=owner,
        group=owner,
    )


def non_empty(path: str, content: str | None) -> str:
    if not content:
        raise ValueError(
            f"the upload {path} is empty, and pulumi-docker refuses empty uploads: the "
            "program must leave the file out when it has nothing to write"
        )
    return content

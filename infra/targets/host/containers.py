"""The baseline of every service, turned into a docker.Container's arguments: the one
translation of infra/services/baseline.py on the host target, and the uploads
(files written into a container before it starts)."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.services import baseline


def labels(
    service: str, stack: str, role: str | None = None, revision: pulumi.Input[str] | None = None
) -> list[docker.ContainerLabelArgs]:
    values = topology.label_values(service, stack, role, revision)
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in values.items()]


def healthcheck(check: baseline.Healthcheck) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=list(check.test),
        interval=check.interval,
        timeout=check.timeout,
        retries=check.retries,
        start_period=check.start_period,
        start_interval=check.start_interval,
    )


def container_args(spec: baseline.Baseline) -> dict:
    """Keyword arguments shared by every docker.Container of the stack."""
    return {
        "restart": baseline.RESTART,
        "log_driver": "json-file",
        "log_opts": dict(baseline.LOG_OPTS),
        "healthcheck": healthcheck(spec.healthcheck),
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
        "tmpfs": dict(spec.tmpfs or baseline.DEFAULT_TMPFS),
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


def _ulimits(spec: baseline.Baseline) -> list[docker.ContainerUlimitArgs]:
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

"""What a Swarm service is, as plain data: the hardening baseline, turned into the
keyword arguments of `docker.Service` (no resources created here).

The same `baseline.Baseline` a container gets becomes a task spec: json-file logs
rotated at 1 MB x 3, a restart policy, the healthcheck, every capability dropped except
those named, a memory limit, a read-only root filesystem with tmpfs scratch space, and
the labels tests/infra selects by. Swarm services cannot carry the rest of the baseline;
`NOT_IN_SWARM` names each piece and why, and the unit tests read it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.services import baseline

# Baseline keys a Swarm service has no field for (Docker 20.10 API, pulumi-docker 5.x).
NOT_IN_SWARM = {
    "security_opts": "services take no security options: no-new-privileges is not settable",
    "ulimits": "services take no ulimits: tasks inherit dockerd's --default-ulimit",
    "memory_swap": "services take no swap limit: set it on the nodes (no swap on them)",
}
RESTART_CONDITION = "any"
_SIZE = re.compile(r"^size=(\d+)([kmg]?)$")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


@dataclass(frozen=True)
class Rollout:
    """How a new version replaces the running tasks. start-first needs room for two
    tasks at once, so stateful services and host-published ports use stop-first."""

    order: str = "start-first"
    parallelism: int = 1
    delay: str = "2s"
    monitor: str = "15s"  # a task that fails its health within this rolls the update back


STOP_FIRST = Rollout(order="stop-first")


@dataclass(frozen=True)
class Task:
    """Everything of a service that is not the baseline."""

    image: pulumi.Input[str]
    user: str | None = None
    args: Sequence[str] | None = None  # the container's CMD; the image's entrypoint stays
    env: Sequence[str] = ()
    networks: Sequence[tuple[pulumi.Input[str], Sequence[str]]] = ()  # (network id, aliases)
    volumes: Sequence[tuple[str, str, bool]] = ()  # (volume name, path, read-only)
    secrets: Sequence[docker.ServiceTaskSpecContainerSpecSecretArgs] = ()
    configs: Sequence[docker.ServiceTaskSpecContainerSpecConfigArgs] = ()
    constraints: Sequence[str] = ()
    replicas: int | None = 1  # None: global (one task on every node the constraints allow)
    max_replicas_per_node: int = 0  # 0: no limit
    rollout: Rollout = field(default_factory=Rollout)
    ports: Sequence[docker.ServiceEndpointSpecPortArgs] = ()


def tmpfs_mount(path: str, options: str) -> docker.ServiceTaskSpecContainerSpecMountArgs:
    """`rw,noexec,nosuid,size=64m` (the container form) -> a tmpfs mount of that size."""
    sizes = [m for part in options.split(",") if (m := _SIZE.match(part))]
    size = int(sizes[0].group(1)) * _UNITS[sizes[0].group(2)] if sizes else None
    return docker.ServiceTaskSpecContainerSpecMountArgs(
        target=path,
        type="tmpfs",
        tmpfs_options=docker.ServiceTaskSpecContainerSpecMountTmpfsOptionsArgs(size_bytes=size),
    )


def healthcheck(check: baseline.Healthcheck) -> docker.ServiceTaskSpecContainerSpecHealthcheckArgs:
    return docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
        tests=list(check.test),
        interval=check.interval,
        timeout=check.timeout,
        retries=check.retries,
        start_period=check.start_period,
    )


def label_map(spec: baseline.Baseline) -> dict[str, pulumi.Input[str]]:
    return topology.label_values(spec.service, spec.stack, revision=spec.secrets_revision)


def _update(rollout: Rollout, action: str) -> dict:
    return {
        "order": rollout.order,
        "parallelism": rollout.parallelism,
        "delay": rollout.delay,
        "monitor": rollout.monitor,
        "failure_action": action,
        "max_failure_ratio": "0",
    }


def service_args(spec: baseline.Baseline, task: Task) -> dict:
    """Keyword arguments of the docker.Service for `spec` (the baseline) and `task`."""
    labels: Mapping[str, pulumi.Input[str]] = label_map(spec)
    mounts = [
        docker.ServiceTaskSpecContainerSpecMountArgs(
            target=path, source=volume, type="volume", read_only=read_only
        )
        for volume, path, read_only in task.volumes
    ]
    tmpfs = spec.tmpfs or {"/tmp": "rw,noexec,nosuid,size=64m"}
    mounts += [tmpfs_mount(path, options) for path, options in tmpfs.items()]
    mode = (
        docker.ServiceModeArgs(global_=True)
        if task.replicas is None
        else docker.ServiceModeArgs(
            replicated=docker.ServiceModeReplicatedArgs(replicas=task.replicas)
        )
    )
    return {
        **_converge(task),
        "labels": [docker.ServiceLabelArgs(label=k, value=v) for k, v in labels.items()],
        "mode": mode,
        "task_spec": docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image=task.image,
                args=list(task.args) if task.args else None,
                user=task.user,
                env=_env(task.env),
                labels=[
                    docker.ServiceTaskSpecContainerSpecLabelArgs(label=k, value=v)
                    for k, v in labels.items()
                ],
                cap_drops=["ALL"],
                cap_adds=sorted(spec.cap_add) or None,
                read_only=spec.read_only,
                healthcheck=healthcheck(spec.healthcheck),
                stop_grace_period=f"{spec.stop_timeout}s",
                mounts=mounts,
                secrets=list(task.secrets) or None,
                configs=list(task.configs) or None,
            ),
            resources=docker.ServiceTaskSpecResourcesArgs(
                limits=docker.ServiceTaskSpecResourcesLimitsArgs(
                    memory_bytes=spec.memory_mb * 1024 * 1024
                )
            ),
            restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(
                condition=RESTART_CONDITION, delay="2s"
            ),
            log_driver=docker.ServiceTaskSpecLogDriverArgs(
                name="json-file", options=dict(baseline.LOG_OPTS)
            ),
            placement=docker.ServiceTaskSpecPlacementArgs(
                constraints=list(task.constraints) or None,
                max_replicas=task.max_replicas_per_node or None,
            ),
            networks_advanceds=[
                docker.ServiceTaskSpecNetworksAdvancedArgs(id=net, aliases=list(aliases) or None)
                for net, aliases in task.networks
            ],
        ),
        "update_config": docker.ServiceUpdateConfigArgs(**_update(task.rollout, "rollback")),
        "rollback_config": docker.ServiceRollbackConfigArgs(**_update(task.rollout, "pause")),
        # dnsrr: the service name resolves to its tasks' addresses. The VIP mode needs
        # iptables on every node (see the README's swarm section).
        "endpoint_spec": docker.ServiceEndpointSpecArgs(
            mode="dnsrr", ports=list(task.ports) or None
        ),
    }


def _converge(task: Task) -> dict:
    """`pulumi up` waits for a replicated service until each slot runs a task (healthy
    where it has a healthcheck). The provider's schema forbids it on a global service. Its
    wait does not see a rollback Swarm starts later: `infra/ops/rollout.py` does."""
    if task.replicas is None:
        return {}
    return {"converge_config": docker.ServiceConvergeConfigArgs(delay="1s", timeout="3m")}


def _env(env: Sequence[str]) -> dict[str, str] | None:
    pairs = dict(item.split("=", 1) for item in env)
    return pairs or None


def node_label(label: str) -> str:
    """The placement constraint of a node label set to true."""
    return f"node.labels.{label} == true"


def host_port(target: int, published: int) -> docker.ServiceEndpointSpecPortArgs:
    """A port published on the node that runs the task (no routing mesh)."""
    return docker.ServiceEndpointSpecPortArgs(
        target_port=target, published_port=published, publish_mode="host", protocol="tcp"
    )

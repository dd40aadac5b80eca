"""Redis on the swarm target: one task, on the node labelled to hold its volume."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.config.target import DATA_LABEL
from infra.services import baseline, redis
from infra.targets.swarm import secrets as swarm_secrets
from infra.targets.swarm import service as swarm_service
from infra.targets.swarm import spec as swarm_spec


@dataclass(frozen=True)
class SwarmRedisArgs:
    stack: str
    image: str
    memory_mb: int
    password: pulumi.Output
    network: docker.Network


class SwarmRedis(pulumi.ComponentResource):
    service: docker.Service

    def __init__(self, name: str, args: SwarmRedisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:SwarmRedis", name, None, opts)
        password = swarm_secrets.secret(
            f"{name}-password", args.stack, redis.CREDENTIAL_FILE, args.password, self
        )
        spec = baseline.Baseline(
            service="redis",
            stack=args.stack,
            memory_mb=args.memory_mb,
            healthcheck=redis.HEALTHCHECK,
            secrets_revision=password.name,
        )
        task = swarm_spec.Task(
            image=args.image,
            user=redis.USER,
            args=redis.command(args.memory_mb),
            networks=[(args.network.id, [redis.ALIAS])],
            volumes=[(topology.name(args.stack, "redis-data"), redis.DATA_DIR, False)],
            secrets=[swarm_secrets.mount(password, redis.CREDENTIAL_FILE, redis.USER)],
            constraints=[swarm_spec.node_label(DATA_LABEL)],
            # One AOF, one writer: the old task stops before the new one starts.
            rollout=swarm_spec.STOP_FIRST,
        )
        self.service = swarm_service.declare(f"{name}-service", spec, task, self)
        self.register_outputs({"service": self.service.name, "image": args.image})

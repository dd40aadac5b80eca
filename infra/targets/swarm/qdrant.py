"""Qdrant on the swarm target: one task, on the node labelled to hold its volume."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.config.target import DATA_LABEL
from infra.services import baseline, qdrant
from infra.targets.swarm import secrets as swarm_secrets
from infra.targets.swarm import service as swarm_service
from infra.targets.swarm import spec as swarm_spec


@dataclass(frozen=True)
class SwarmQdrantArgs:
    stack: str
    image: str
    memory_mb: int
    api_key: pulumi.Output
    network: docker.Network


class SwarmQdrant(pulumi.ComponentResource):
    service: docker.Service

    def __init__(
        self, name: str, args: SwarmQdrantArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("ora:infra:SwarmQdrant", name, None, opts)
        api_key = swarm_secrets.secret(
            f"{name}-api-key", args.stack, qdrant.CREDENTIAL_FILE, args.api_key, self
        )
        spec = baseline.Baseline(
            service="qdrant",
            stack=args.stack,
            memory_mb=args.memory_mb,
            healthcheck=qdrant.HEALTHCHECK,
            tmpfs=qdrant.TMPFS,
            secrets_revision=api_key.name,
        )
        task = swarm_spec.Task(
            image=args.image,
            args=qdrant.COMMAND,
            env=qdrant.ENV,
            networks=[(args.network.id, [qdrant.ALIAS])],
            volumes=[(topology.name(args.stack, "qdrant-data"), qdrant.STORAGE, False)],
            secrets=[swarm_secrets.mount(api_key, qdrant.CREDENTIAL_FILE, qdrant.OWNER)],
            constraints=[swarm_spec.node_label(DATA_LABEL)],
            rollout=swarm_spec.STOP_FIRST,  # one storage directory, one writer
        )
        self.service = swarm_service.declare(f"{name}-service", spec, task, self)
        self.register_outputs({"service": self.service.name, "image": args.image})

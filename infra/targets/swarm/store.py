"""A data store on the swarm: the one adapter for every `Store` (Redis, Qdrant). One task,
on the node labelled to hold its volume (ora.data), its credential a Swarm secret, on the
internal overlay only; a new task starts only once the old one stopped (one data
directory, one writer)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.config.target import DATA_LABEL
from infra.services.store import Store
from infra.targets.swarm import secrets as swarm_secrets
from infra.targets.swarm import service as swarm_service
from infra.targets.swarm import spec as swarm_spec


@dataclass(frozen=True)
class SwarmStoreArgs:
    spec: Store
    stack: str
    image: str
    memory_mb: int
    credential: pulumi.Output  # the secret mounted as spec.credential_file
    credential_name: str  # its resource name's suffix: NAME-password, NAME-api-key
    network: docker.Network


class SwarmStore(pulumi.ComponentResource):
    service: docker.Service

    def __init__(
        self,
        type_token: str,
        name: str,
        args: SwarmStoreArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(type_token, name, None, opts)
        spec = args.spec
        credential = swarm_secrets.secret(
            f"{name}-{args.credential_name}",
            args.stack,
            spec.credential_file,
            args.credential,
            self,
        )
        limits = spec.baseline(args.stack, args.memory_mb, credential.name)
        task = swarm_spec.Task(
            image=args.image,
            user=spec.user,
            args=list(spec.command),
            env=list(spec.env),
            networks=[(args.network.id, [spec.alias])],
            volumes=[(topology.name(args.stack, spec.data_volume), spec.data_dir, False)],
            secrets=[swarm_secrets.mount(credential, spec.credential_file, spec.file_owner)],
            constraints=[swarm_spec.node_label(DATA_LABEL)],
            rollout=swarm_spec.STOP_FIRST,
        )
        self.service = swarm_service.declare(f"{name}-service", limits, task, self)
        self.register_outputs({"service": self.service.name, "image": args.image})

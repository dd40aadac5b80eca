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
from infra.targets import monitoring_secrets
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
    # ora:monitoring: the overlay the exporter reaches the store on (spec.monitoring_user)
    monitoring: docker.Network | None = None


class SwarmStore(pulumi.ComponentResource):
    service: docker.Service
    exporter_password: pulumi.Output | None  # spec.monitoring_user's, with monitoring

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
        mounts = [swarm_secrets.mount(credential, spec.credential_file, spec.file_owner)]
        networks = [(args.network.id, [spec.alias])]
        self.exporter_password = None
        if spec.monitoring_user is not None and args.monitoring is not None:
            self.exporter_password = monitoring_secrets.exporter_password(name, self)
            users = swarm_secrets.secret(
                f"{name}-monitoring-user",
                args.stack,
                spec.monitoring_user.file,
                self.exporter_password.apply(spec.monitoring_user.render),
                self,
            )
            mounts.append(swarm_secrets.mount(users, spec.monitoring_user.file, spec.file_owner))
            networks.append((args.monitoring.id, [spec.alias]))
        revision = pulumi.Output.all(*[m.secret_name for m in mounts]).apply(" ".join)
        limits = spec.baseline(args.stack, args.memory_mb, revision)
        task = swarm_spec.Task(
            image=args.image,
            user=spec.user,
            args=list(spec.command),
            env=list(spec.env),
            networks=networks,
            volumes=[(topology.name(args.stack, spec.data_volume), spec.data_dir, False)],
            secrets=mounts,
            constraints=[swarm_spec.node_label(DATA_LABEL)],
            rollout=swarm_spec.STOP_FIRST,
        )
        self.service = swarm_service.declare(f"{name}-service", limits, task, self)
        self.register_outputs({"service": self.service.name, "image": args.image})

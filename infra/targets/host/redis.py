"""Redis: cache and job queues, on the internal network (and `monitoring`, for its
exporter's INFO-only user: infra/services/redis_acl.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from infra import topology
from infra.services import baseline, redis, redis_acl
from infra.targets.host import containers, images, secret_files


@dataclass(frozen=True)
class RedisArgs:
    stack: str
    image: str
    memory_mb: int
    password: pulumi.Output
    network: docker.Network
    volume: docker.Volume
    secrets_volume: docker.Volume
    # ora:monitoring: Redis also joins its network, with a user for the exporter alone.
    monitoring: docker.Network | None = None


class Redis(pulumi.ComponentResource):
    container: docker.Container
    secrets_writer: docker.Container
    exporter_password: pulumi.Output | None  # redis_acl.EXPORTER_USER's, with monitoring

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Redis", name, None, opts)
        image = images.pinned(f"{name}-image", args.image, self)
        files = {redis.CREDENTIAL_FILE: args.password}
        networks = [
            docker.ContainerNetworksAdvancedArgs(name=args.network.name, aliases=[redis.ALIAS])
        ]
        self.exporter_password = None
        if args.monitoring is not None:
            generated = random.RandomPassword(
                f"{name}-exporter-password",
                length=40,
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.exporter_password = pulumi.Output.secret(generated.result)
            users = self.exporter_password.apply(redis_acl.exporter_user)
            files[redis_acl.USERS_FILE] = pulumi.Output.secret(users)
            networks.append(
                docker.ContainerNetworksAdvancedArgs(
                    name=args.monitoring.name, aliases=[redis.ALIAS]
                )
            )
        self.secrets_writer = secret_files.writer(
            f"{name}-secrets",
            secret_files.SecretFilesArgs(
                stack=args.stack,
                service="redis",
                image_id=image.image_id,
                owner=redis.USER,
                volume=args.secrets_volume,
                files=files,
            ),
            self,
        )
        spec = baseline.Baseline(
            service="redis",
            stack=args.stack,
            memory_mb=args.memory_mb,
            healthcheck=redis.HEALTHCHECK,
            secrets_revision=secret_files.revision(self.secrets_writer),
        )
        self.container = docker.Container(
            f"{name}-container",
            name=topology.name(args.stack, "redis"),
            image=image.image_id,
            command=redis.command(args.memory_mb),
            user=redis.USER,
            networks_advanced=networks,
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=args.volume.name, container_path=redis.DATA_DIR
                ),
                secret_files.mount(args.secrets_volume),
            ],
            **containers.container_args(spec),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.register_outputs({"container": self.container.name, "image": args.image})

"""Qdrant: the vector store, on the internal network only, behind an API key."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.services import baseline, qdrant
from infra.targets.host import containers, images, secret_files


@dataclass(frozen=True)
class QdrantArgs:
    stack: str
    image: str
    memory_mb: int
    api_key: pulumi.Output
    network: docker.Network
    volume: docker.Volume
    secrets_volume: docker.Volume


class Qdrant(pulumi.ComponentResource):
    container: docker.Container
    secrets_writer: docker.Container

    def __init__(self, name: str, args: QdrantArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Qdrant", name, None, opts)
        image = images.pinned(f"{name}-image", args.image, self)
        self.secrets_writer = secret_files.writer(
            f"{name}-secrets",
            secret_files.SecretFilesArgs(
                stack=args.stack,
                service="qdrant",
                image_id=image.image_id,
                owner=qdrant.OWNER,
                volume=args.secrets_volume,
                files={qdrant.CREDENTIAL_FILE: args.api_key},
            ),
            self,
        )
        spec = baseline.Baseline(
            service="qdrant",
            stack=args.stack,
            memory_mb=args.memory_mb,
            healthcheck=qdrant.HEALTHCHECK,
            max_processes=qdrant.MAX_PROCESSES,
            max_open_files=qdrant.NOFILE,
            tmpfs=qdrant.TMPFS,
            secrets_revision=secret_files.revision(self.secrets_writer),
        )
        self.container = docker.Container(
            f"{name}-container",
            name=topology.name(args.stack, "qdrant"),
            image=image.image_id,
            command=qdrant.COMMAND,
            envs=qdrant.ENV,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.network.name, aliases=[qdrant.ALIAS])
            ],
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=args.volume.name, container_path=qdrant.STORAGE
                ),
                secret_files.mount(args.secrets_volume),
            ],
            **containers.container_args(spec),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.register_outputs({"container": self.container.name, "image": args.image})

"""A data store on one Docker engine: the one adapter for every `Store` (Redis, Qdrant).

Its image is pulled and kept; its secret files are written by a one-shot writer into its
own secrets volume; its container gets the baseline, its data volume, the internal network
and, with monitoring, the monitoring network and a generated user for the exporter alone.
A store is replaced delete-first: one data directory has one writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.services.store import Store
from infra.targets import monitoring_secrets
from infra.targets.host import containers, images, secret_files


@dataclass(frozen=True)
class Platform:
    """What the host target's services share: the stack, its networks and named volumes."""

    stack: str
    internal: docker.Network
    volumes: Mapping[str, docker.Volume]
    monitoring: docker.Network | None = None  # ora:monitoring


@dataclass(frozen=True)
class StoreArgs:
    spec: Store
    image: str
    memory_mb: int
    credential: pulumi.Output  # the secret written to spec.credential_file
    platform: Platform
    extra: Mapping[str, pulumi.Output] = field(default_factory=dict)  # more secret files


class StoreComponent(pulumi.ComponentResource):
    container: docker.Container
    secrets_writer: docker.Container
    exporter_password: pulumi.Output | None  # spec.monitoring_user's, with monitoring

    def __init__(
        self,
        type_token: str,
        name: str,
        args: StoreArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(type_token, name, None, opts)
        spec, platform = args.spec, args.platform
        image = images.pinned(f"{name}-image", args.image, self)
        files = {spec.credential_file: args.credential, **args.extra}
        networks = [platform.internal]
        self.exporter_password = None
        if spec.monitoring_user is not None and platform.monitoring is not None:
            self.exporter_password = monitoring_secrets.exporter_password(name, self)
            users = self.exporter_password.apply(spec.monitoring_user.render)
            files[spec.monitoring_user.file] = pulumi.Output.secret(users)
            networks.append(platform.monitoring)
        secrets_volume = platform.volumes[spec.secrets_volume]
        self.secrets_writer = secret_files.writer(
            f"{name}-secrets",
            secret_files.SecretFilesArgs(
                stack=platform.stack,
                service=spec.service,
                image_id=image.image_id,
                owner=spec.file_owner,
                volume=secrets_volume,
                files=files,
            ),
            self,
        )
        revision = secret_files.revision(self.secrets_writer)
        limits = spec.baseline(platform.stack, args.memory_mb, revision)
        optional = {"user": spec.user, "envs": list(spec.env) or None}
        self.container = docker.Container(
            f"{name}-container",
            name=topology.name(platform.stack, spec.service),
            image=image.image_id,
            command=list(spec.command),
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=n.name, aliases=[spec.alias])
                for n in networks
            ],
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=platform.volumes[spec.data_volume].name,
                    container_path=spec.data_dir,
                ),
                secret_files.mount(secrets_volume),
            ],
            **{key: value for key, value in optional.items() if value is not None},
            **containers.container_args(limits),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.register_outputs({"container": self.container.name, "image": args.image})

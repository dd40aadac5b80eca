"""The Ora service: N web replicas behind nginx, plus one job worker.

Replicas are named after the image they run, so a new image creates new
containers first (each waits for its healthcheck). Each replica has a static edge
address (infra/targets/host/network.py); nginx's upstream block names them (`upstream_servers`),
its installer waits until nginx has reloaded onto them, and only then does Pulumi
remove the old ones, so a rollout drops no request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.services import baseline
from infra.services.app import (
    ALIAS,
    DATA_DIR,
    LOG_DIR_ENV,
    LOGS_DIR,
    PORT,
    STATIC_DIR,
    UID,
    WEB_HEALTHCHECK,
    WORKER_ALIAS,
    WORKER_COMMAND,
    WORKER_HEALTHCHECK,
    AppSettings,
    name_tag,
    plain_env,
    secret_env,
    secret_file_contents,
)
from infra.targets.host import containers, images, network, secret_files


@dataclass(frozen=True)
class AppArgs:
    stack: str
    image: str | None  # a pinned registry reference, or None to build app/ on the host
    replicas: int
    memory_mb: int
    worker_memory_mb: int
    settings: AppSettings
    secrets: Mapping[str, pulumi.Output]  # the stack's secrets that are set, by config key
    api_key_hashes: pulumi.Output  # the API_KEYS_FILE (infra/config/apikeys.py)
    edge: docker.Network
    internal: docker.Network
    data: docker.Volume
    static: docker.Volume
    secrets_volume: docker.Volume
    depends_on: list[pulumi.Resource]
    logs: docker.Volume | None = None  # ORA_LOG_DIR's volume


class App(pulumi.ComponentResource):
    replicas: list[docker.Container]
    upstream_servers: pulumi.Output  # list of "IP:PORT", one per replica, static
    worker: docker.Container
    secrets_writer: docker.Container
    image_name: pulumi.Output

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:App", name, None, opts)
        env = [*plain_env(args.settings), *secret_env(frozenset(args.secrets))]
        if args.logs is not None:  # JSON lines also to files on the volume (app/ora/logs.py)
            env.append(LOG_DIR_ENV)
        self._args = args
        if args.image:
            # The digest names the containers, so a new image means new containers.
            self._image_id = images.pinned(f"{name}-image", args.image, self).image_id
            self.image_name = pulumi.Output.from_input(args.image)
            tag = name_tag(args.image)
        else:
            built = images.built_app(f"{name}-image", args.stack, self)
            self._image_id, self.image_name = built.image_name, built.image_name
            tag = images.context_digest()[:12]
        self.secrets_writer = secret_files.writer(
            f"{name}-secrets",
            secret_files.SecretFilesArgs(
                stack=args.stack,
                service="app",
                image_id=self._image_id,
                owner=f"{UID}:{UID}",
                volume=args.secrets_volume,
                files=secret_file_contents(args.secrets, args.api_key_hashes),
            ),
            self,
        )
        self._revision = secret_files.revision(self.secrets_writer)
        # A new image or new secrets: new names, so new containers start before old ones go.
        suffix = self._revision.apply(lambda rev: f"{tag}-{rev[:6]}")
        addresses = [
            suffix.apply(lambda generation, i=i: network.replica_address(generation, i))
            for i in range(args.replicas)
        ]
        self.upstream_servers = pulumi.Output.all(*addresses).apply(
            lambda ips: [f"{ip}:{PORT}" for ip in ips]
        )
        self.replicas = [
            self._container(
                f"{name}-web-{i}",
                pulumi.Output.concat(topology.prefix(args.stack, "app", str(i)), suffix),
                service="app",
                env=env,
                memory_mb=args.memory_mb,
                healthcheck=WEB_HEALTHCHECK,
                command=None,
                aliases=[ALIAS],
                internal_aliases=[ALIAS],
                address=addresses[i],
            )
            for i in range(args.replicas)
        ]
        self.worker = self._container(
            f"{name}-worker",
            pulumi.Output.concat(topology.prefix(args.stack, "worker"), suffix),
            service="worker",
            env=env,
            memory_mb=args.worker_memory_mb,
            healthcheck=WORKER_HEALTHCHECK,
            command=WORKER_COMMAND,
            aliases=[],
            internal_aliases=[WORKER_ALIAS],
        )
        self.register_outputs(
            {
                "replicas": [c.name for c in self.replicas],
                "upstreamServers": self.upstream_servers,
                "worker": self.worker.name,
                "image": self.image_name,
            }
        )

    def _logs(self) -> list:
        if self._args.logs is None:
            return []
        return [
            docker.ContainerVolumeArgs(volume_name=self._args.logs.name, container_path=LOGS_DIR)
        ]

    def _container(
        self,
        resource_name,
        container_name,
        *,
        service,
        env,
        memory_mb,
        healthcheck,
        command,
        aliases,
        internal_aliases,
        address=None,
    ):
        args = self._args
        spec = baseline.Baseline(
            service=service,
            stack=args.stack,
            memory_mb=memory_mb,
            healthcheck=healthcheck,
            secrets_revision=self._revision,
        )
        return docker.Container(
            resource_name,
            name=container_name,
            image=self._image_id,
            command=command,
            user=f"{UID}:{UID}",
            envs=env,
            networks_advanced=[
                # Only the web replicas carry the alias nginx (and Prometheus) resolves.
                docker.ContainerNetworksAdvancedArgs(
                    name=args.edge.name, aliases=aliases, ipv4_address=address
                ),
                docker.ContainerNetworksAdvancedArgs(
                    name=args.internal.name, aliases=internal_aliases
                ),
            ],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=args.data.name, container_path=DATA_DIR),
                docker.ContainerVolumeArgs(volume_name=args.static.name, container_path=STATIC_DIR),
                secret_files.mount(args.secrets_volume),
                *self._logs(),
            ],
            **containers.container_args(spec),
            # New names for a new image or new secrets (above): the new containers start
            # and pass their healthcheck, nginx is reloaded onto them, and the engine
            # deletes the old ones at the end of the update. pulumi-docker would delete
            # them first (its default for containers), dropping requests.
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=False, depends_on=args.depends_on
            ),
        )

"""Nginx: the only container that publishes ports; TLS, headers, limits, static files."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.config import Edge, StackConfig
from infra.edge import acme
from infra.edge import release as edge_release
from infra.edge.render import NginxRuntime, render_nginx
from infra.services import baseline
from infra.services.nginx import (
    ACCESS_LOG_FILE,
    HEALTHCHECK,
    LOGS_DIR,
    RUNTIME,
    UID,
)
from infra.targets.host import containers, images, oneshot


def published_ports(edge: Edge) -> list[docker.ContainerPortArgs]:
    return [
        docker.ContainerPortArgs(
            internal=RUNTIME.listen_http, external=edge.http_port, ip=edge.bind_address
        ),
        docker.ContainerPortArgs(
            internal=RUNTIME.listen_https, external=edge.https_port, ip=edge.bind_address
        ),
    ]


def _certificate_volumes(tls_mode: str, webroot: docker.Volume) -> list:
    """acme: the host's certbot writes the webroot and the certificate (infra/edge/acme.py)."""
    if tls_mode == "acme":
        return [
            docker.ContainerVolumeArgs(
                host_path=acme.WEBROOT, container_path=RUNTIME.acme_webroot, read_only=True
            ),
            docker.ContainerVolumeArgs(
                host_path=acme.TLS_DIR, container_path=RUNTIME.acme_tls_dir, read_only=True
            ),
        ]
    return [
        docker.ContainerVolumeArgs(
            volume_name=webroot.name, container_path=RUNTIME.acme_webroot, read_only=True
        )
    ]


@dataclass(frozen=True)
class NginxArgs:
    config: StackConfig
    memory_mb: int
    certificate_pem: pulumi.Output | None  # None in acme mode: the host's certbot provides it
    private_key_pem: pulumi.Output | None
    edge: docker.Network
    static: docker.Volume
    acme_webroot: docker.Volume
    config_volume: docker.Volume  # the releases (infra/edge/release.py)
    state_volume: docker.Volume  # the launcher's reload acknowledgements
    upstream_servers: pulumi.Output  # the app replicas' "IP:PORT" (App.upstream_servers)
    depends_on: list[pulumi.Resource]  # the replicas: healthy before a release names them
    logs: docker.Volume | None = None  # monitoring on: the access log also goes here
    monitoring: docker.Network | None = None  # monitoring on: blackbox probes nginx there


class Nginx(pulumi.ComponentResource):
    container: docker.Container
    installer: docker.Container
    release: pulumi.Output[str]

    def __init__(self, name: str, args: NginxArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Nginx", name, None, opts)
        cfg = args.config
        image = images.pinned(f"{name}-image", cfg.images.nginx, self)
        certificate = _certificate_volumes(cfg.edge.tls_mode, args.acme_webroot)
        runtime, logs = RUNTIME, []
        if args.logs is not None:
            runtime = dataclasses.replace(RUNTIME, access_log_file=ACCESS_LOG_FILE)
            logs = [docker.ContainerVolumeArgs(volume_name=args.logs.name, container_path=LOGS_DIR)]
        self.installer = oneshot.container(
            f"{name}-config",
            oneshot.OneShot(
                stack=cfg.stack,
                service="nginx-config",
                image_id=image.image_id,
                script=edge_release.install_script(
                    owner=f"{UID}:{UID}",
                    private_key=edge_release.PRIVATE_KEY if args.private_key_pem else None,
                    logs_dir=LOGS_DIR if logs else None,
                ),
                uploads=_release_files(
                    cfg, runtime, args.upstream_servers, args.certificate_pem, args.private_key_pem
                ),
                volumes=[
                    docker.ContainerVolumeArgs(
                        volume_name=args.config_volume.name, container_path=edge_release.ROOT
                    ),
                    docker.ContainerVolumeArgs(
                        volume_name=args.state_volume.name, container_path=edge_release.STATE
                    ),
                    *certificate,  # nginx -t reads the acme certificate too
                    *logs,
                ],
            ),
            self,
            depends_on=args.depends_on,
        )
        # A failed `nginx -t` fails the update here; the nginx container does not depend
        # on the release, so a new one is reloaded into it, not a reason to replace it.
        self.release = oneshot.revision(self.installer)
        spec = baseline.Baseline(
            service="nginx",
            stack=cfg.stack,
            memory_mb=args.memory_mb,
            healthcheck=HEALTHCHECK,
            max_open_files=16384,
        )
        self.container = docker.Container(
            f"{name}-container",
            name=topology.name(cfg.stack, "nginx"),
            image=image.image_id,
            user=f"{UID}:{UID}",
            command=[
                "sh",
                "-c",
                edge_release.launch_script(access_log_file=ACCESS_LOG_FILE if logs else None),
            ],
            ports=published_ports(cfg.edge),
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=network.name)
                for network in (args.edge, args.monitoring)
                if network is not None
            ],
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=args.config_volume.name,
                    container_path=edge_release.ROOT,
                    read_only=True,
                ),
                docker.ContainerVolumeArgs(
                    volume_name=args.state_volume.name, container_path=edge_release.STATE
                ),
                docker.ContainerVolumeArgs(
                    volume_name=args.static.name, container_path=RUNTIME.static_root, read_only=True
                ),
                *certificate,
                *logs,
            ],
            **containers.container_args(spec),
            # A fixed name and fixed host ports: the old container must go first.
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                depends_on=[*args.depends_on, self.installer],
            ),
        )
        self.register_outputs(
            {"container": self.container.name, "image": cfg.images.nginx, "release": self.release}
        )


def _release_files(
    cfg: StackConfig, runtime: NginxRuntime, upstream_servers, certificate_pem, private_key_pem
) -> list:
    """The installer's uploads: the rendered files, and the certificate unless acme."""
    files = pulumi.Output.from_input(upstream_servers).apply(
        lambda servers: render_nginx(cfg, runtime, tuple(servers))
    )
    uploads = [
        containers.upload(f"{edge_release.STAGING}/{path}", files.apply(lambda f, p=path: f[p]))
        for path in sorted(render_nginx(cfg, runtime))
    ]
    if certificate_pem is not None:
        tls = f"{edge_release.STAGING}/{runtime.tls_dir}"
        uploads += [
            containers.upload(f"{tls}/fullchain.pem", certificate_pem),
            containers.upload(f"{tls}/privkey.pem", pulumi.Output.secret(private_key_pem)),
        ]
    return uploads

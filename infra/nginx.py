"""Nginx: the only container that publishes ports; TLS, headers, limits, static files."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import acme, hardening, images
from infra.config import Edge, StackConfig
from infra.render import NginxRuntime, render_nginx

UID = "101"  # the nginx user of nginx-unprivileged
RUNTIME = NginxRuntime()

HEALTHCHECK = hardening.Healthcheck(
    test=[
        "CMD",
        "curl",
        "-fsSk",
        "-o",
        "/dev/null",
        f"https://127.0.0.1:{RUNTIME.listen_https}/healthz",
    ],
    interval="5s",
)


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
    """acme: the host's certbot writes the webroot and the certificate (infra/acme.py)."""
    if tls_mode == "acme":
        return [
            docker.ContainerVolumeArgs(
                host_path=acme.WEBROOT, container_path=RUNTIME.acme_webroot, read_only=True
            ),
            docker.ContainerVolumeArgs(
                host_path=acme.TLS_DIR, container_path=RUNTIME.tls_dir, read_only=True
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
    depends_on: list[pulumi.Resource]


class Nginx(pulumi.ComponentResource):
    container: docker.Container

    def __init__(self, name: str, args: NginxArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Nginx", name, None, opts)
        cfg = args.config
        image = images.pinned(f"{name}-image", cfg.images.nginx, self)
        files = render_nginx(cfg, RUNTIME)
        uploads = [
            hardening.upload(f"/etc/nginx/{path}", text) for path, text in sorted(files.items())
        ]
        if args.certificate_pem is not None:
            uploads += [
                hardening.upload(f"{RUNTIME.tls_dir}/fullchain.pem", args.certificate_pem),
                hardening.upload(
                    f"{RUNTIME.tls_dir}/privkey.pem", args.private_key_pem, mode=0o400, owner=UID
                ),
            ]
        spec = hardening.Baseline(
            service="nginx",
            stack=cfg.stack,
            memory_mb=args.memory_mb,
            healthcheck=HEALTHCHECK,
            max_open_files=16384,
            # pulumi-docker copies uploads through the container's root ("/"), which
            # Docker refuses on a read-only root filesystem, even when every file
            # lands on a volume. The config and certificate must be uploads (they
            # change with the stack), so nginx alone keeps a writable root; it runs
            # as UID 101 with no capabilities, so it can write only where 101 may.
            read_only=False,
        )
        self.container = docker.Container(
            f"{name}-container",
            name=f"ora-{cfg.stack}-nginx",
            image=image.image_id,
            user=f"{UID}:{UID}",
            ports=published_ports(cfg.edge),
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.edge.name)],
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=args.static.name, container_path=RUNTIME.static_root, read_only=True
                ),
                *_certificate_volumes(cfg.edge.tls_mode, args.acme_webroot),
            ],
            uploads=uploads,
            **hardening.container_args(spec),
            # A fixed name and fixed host ports: the old container must go first.
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, depends_on=args.depends_on
            ),
        )
        self.register_outputs({"container": self.container.name, "image": cfg.images.nginx})

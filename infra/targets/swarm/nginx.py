"""nginx on the swarm target: one task on every node labelled as edge, publishing
80/443 in host mode on that node (the routing mesh would need iptables and hides the
client's address); the only published ports of the stack.

The rendered files (infra/edge/render.py, as on the host target) are Swarm configs and the
certificate is two Swarm secrets, all mounted read-only. A change of either creates new
configs and rolls nginx: stop-first, because the host ports can be bound only once per
node, so an edge node answers nothing for the seconds of the restart (run two edge nodes
behind DNS or a load balancer to avoid that).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import PurePosixPath

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.config import StackConfig
from infra.config.target import EDGE_LABEL
from infra.edge import release as edge_release
from infra.edge.render import NginxRuntime, render_nginx
from infra.services import baseline, nginx
from infra.targets.swarm import secrets as swarm_secrets
from infra.targets.swarm import service as swarm_service
from infra.targets.swarm import spec as swarm_spec

# The certificate comes from Swarm secrets at /run/secrets; everything else as on the host.
RUNTIME = NginxRuntime(tls_dir="/run/secrets")
LAUNCH = f"exec nginx -c {RUNTIME.conf_dir}/nginx.conf -g 'daemon off;'"
# With monitoring, the JSON access log's file copy for mtail, on the edge-logs volume.
# Mounted at the one directory of the nginx image its user owns: Docker gives a new
# volume the ownership of the directory it is mounted on, so nginx (uid 101) can write
# it; mtail mounts the same volume read-only at nginx.LOGS_DIR.
LOGS_MOUNT = "/var/cache/nginx"
ACCESS_LOG = f"{LOGS_MOUNT}/{PurePosixPath(nginx.ACCESS_LOG_FILE).name}"


def runtime_of(access_log_file: bool) -> NginxRuntime:
    """The rendering's runtime: with monitoring, the access log's copy for mtail too."""
    return dataclasses.replace(RUNTIME, access_log_file=ACCESS_LOG) if access_log_file else RUNTIME


def launch_of(access_log_file: bool) -> str:
    """Process 1's script: nginx, and with monitoring the rotation of its access log copy."""
    if not access_log_file:
        return LAUNCH
    return edge_release.rotating_launch_script(f"{RUNTIME.conf_dir}/nginx.conf", ACCESS_LOG)


@dataclass(frozen=True)
class SwarmNginxArgs:
    config: StackConfig
    memory_mb: int
    certificate_pem: pulumi.Output
    private_key_pem: pulumi.Output
    edge: docker.Network
    depends_on: list[pulumi.Resource]
    monitoring: docker.Network | None = None  # ora:monitoring: the probe's and mtail's


class SwarmNginx(pulumi.ComponentResource):
    service: docker.Service
    release: pulumi.Output[str]

    def __init__(self, name: str, args: SwarmNginxArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:SwarmNginx", name, None, opts)
        cfg = args.config
        owner = f"{nginx.UID}:{nginx.UID}"
        logged = args.monitoring is not None
        runtime, launch = runtime_of(logged), launch_of(logged)
        networks = [(args.edge.id, [])]
        volumes = [(topology.name(cfg.stack, "static"), RUNTIME.static_root, True)]
        if args.monitoring is not None:
            networks.append((args.monitoring.id, []))
            volumes.append((topology.name(cfg.stack, "edge-logs"), LOGS_MOUNT, False))
        configs, tags = [], []
        for path, text in sorted(render_nginx(cfg, runtime).items()):
            found, tag = swarm_secrets.config(
                f"{name}-{swarm_secrets.config_name(path)}", cfg.stack, text, self
            )
            configs.append(swarm_secrets.config_mount(found, f"{RUNTIME.conf_dir}/{path}"))
            tags.append(tag)
        certificate = swarm_secrets.secret(
            f"{name}-fullchain", cfg.stack, "fullchain.pem", args.certificate_pem, self
        )
        key = swarm_secrets.secret(
            f"{name}-privkey", cfg.stack, "privkey.pem", args.private_key_pem, self
        )
        self.release = pulumi.Output.from_input(swarm_secrets.content_tag("".join(tags)))
        spec = baseline.Baseline(
            service="nginx",
            stack=cfg.stack,
            memory_mb=args.memory_mb,
            healthcheck=nginx.HEALTHCHECK,
            secrets_revision=key.name,
        )
        task = swarm_spec.Task(
            image=cfg.images.nginx,
            user=owner,
            args=["sh", "-c", launch],
            networks=networks,
            volumes=volumes,
            secrets=[
                swarm_secrets.mount(certificate, "fullchain.pem", owner, 0o444),
                swarm_secrets.mount(key, "privkey.pem", owner),
            ],
            configs=configs,
            constraints=[swarm_spec.node_label(EDGE_LABEL)],
            replicas=None,  # global: every edge node
            rollout=swarm_spec.STOP_FIRST,
            ports=[
                swarm_spec.host_port(RUNTIME.listen_http, cfg.edge.http_port),
                swarm_spec.host_port(RUNTIME.listen_https, cfg.edge.https_port),
            ],
        )
        self.service = swarm_service.declare(f"{name}-service", spec, task, self, args.depends_on)
        self.register_outputs(
            {"service": self.service.name, "image": cfg.images.nginx, "release": self.release}
        )

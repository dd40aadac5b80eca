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

import re
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.config import StackConfig
from infra.config.target import EDGE_LABEL
from infra.edge.render import NginxRuntime, render_nginx
from infra.services import baseline, nginx
from infra.targets.swarm import secrets as swarm_secrets
from infra.targets.swarm import service as swarm_service
from infra.targets.swarm import spec as swarm_spec

# The certificate comes from Swarm secrets at /run/secrets; everything else as on the host.
RUNTIME = NginxRuntime(tls_dir="/run/secrets")
LAUNCH = f"exec nginx -c {RUNTIME.conf_dir}/nginx.conf -g 'daemon off;'"


@dataclass(frozen=True)
class SwarmNginxArgs:
    config: StackConfig
    memory_mb: int
    certificate_pem: pulumi.Output
    private_key_pem: pulumi.Output
    edge: docker.Network
    depends_on: list[pulumi.Resource]


def config_name(path: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", path)


class SwarmNginx(pulumi.ComponentResource):
    service: docker.Service
    release: pulumi.Output[str]

    def __init__(self, name: str, args: SwarmNginxArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:SwarmNginx", name, None, opts)
        cfg = args.config
        owner = f"{nginx.UID}:{nginx.UID}"
        configs, tags = [], []
        for path, text in sorted(render_nginx(cfg, RUNTIME).items()):
            found, tag = swarm_secrets.config(f"{name}-{config_name(path)}", cfg.stack, text, self)
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
            args=["sh", "-c", LAUNCH],
            networks=[(args.edge.id, [])],
            volumes=[(topology.name(cfg.stack, "static"), RUNTIME.static_root, True)],
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

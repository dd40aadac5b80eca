"""The swarm target's networks: attachable overlays spanning every node."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.targets import monitoring_networks


@dataclass(frozen=True)
class SwarmNetworkArgs:
    stack: str
    encrypted: bool  # IPsec between nodes (`--opt encrypted`)
    monitoring: bool = False  # ora:monitoring: its two overlays too


def overlay_options(encrypted: bool) -> dict[str, str] | None:
    return {"encrypted": ""} if encrypted else None


class SwarmNetwork(pulumi.ComponentResource):
    """`edge` joins nginx and the app; `internal` (no route out) joins the app, the
    worker, Qdrant and Redis. With monitoring, as on one host (infra/monitoring/specs.py:
    NETWORKS): `monitoring` (no route out) joins the monitoring services, nginx (the
    probe's target) and Redis (the exporter's), and `alerting` gives Alertmanager alone a
    route out. Attachable, so one-off tasks (`docker run --network`,
    backups, tests) can join them. Volumes are node-local in a swarm: each service
    declares its own, created on the node its task runs on."""

    edge: docker.Network
    internal: docker.Network
    monitoring: docker.Network | None
    alerting: docker.Network | None

    def __init__(
        self, name: str, args: SwarmNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("ora:infra:SwarmNetwork", name, None, opts)
        labels = [docker.NetworkLabelArgs(label=topology.STACK_LABEL, value=args.stack)]
        common = {
            "driver": "overlay",
            "attachable": True,
            "options": overlay_options(args.encrypted),
            "labels": labels,
            "opts": pulumi.ResourceOptions(parent=self),
        }
        self.edge = docker.Network(f"{name}-edge", name=topology.name(args.stack, "edge"), **common)
        self.internal = docker.Network(
            f"{name}-internal", name=topology.name(args.stack, "internal"), internal=True, **common
        )
        self.monitoring = self.alerting = None
        if args.monitoring:
            self.monitoring, self.alerting = monitoring_networks.declare(name, args.stack, **common)
        self.register_outputs({"edge": self.edge.name, "internal": self.internal.name})

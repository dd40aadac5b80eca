"""The swarm target's networks: attachable overlays spanning every node."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology


@dataclass(frozen=True)
class SwarmNetworkArgs:
    stack: str
    encrypted: bool  # IPsec between nodes (`--opt encrypted`)


def overlay_options(encrypted: bool) -> dict[str, str] | None:
    return {"encrypted": ""} if encrypted else None


class SwarmNetwork(pulumi.ComponentResource):
    """`edge` joins nginx and the app; `internal` (no route out) joins the app, the
    worker, Qdrant and Redis. Attachable, so one-off tasks (`docker run --network`,
    backups, tests) can join them. Volumes are node-local in a swarm: each service
    declares its own, created on the node its task runs on."""

    edge: docker.Network
    internal: docker.Network

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
        self.register_outputs({"edge": self.edge.name, "internal": self.internal.name})

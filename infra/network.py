"""Networks and named volumes: the only shared state between containers."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

VOLUMES = ("qdrant-data", "redis-data", "app-data", "static", "acme-webroot")
# Filled by one-shot installers (infra/oneshot.py): each service's secrets, so no service
# can read another's (infra/secret_files.py), and the edge's releases
# (infra/edge_config.py). Rewritten on every change, so not protected like the data.
INSTALLED_VOLUMES = ("redis-secrets", "qdrant-secrets", "app-secrets", "edge-config")
# The edge's JSON access log file that monitoring's mtail reads (infra/nginx.py).
LOG_VOLUMES = ("edge-logs",)


@dataclass(frozen=True)
class NetworkArgs:
    stack: str


class Network(pulumi.ComponentResource):
    """`edge` joins nginx and the app; `internal` (no route out) joins the app,
    the worker, Qdrant and Redis. Volumes outlive every container."""

    edge: docker.Network
    internal: docker.Network
    volumes: dict[str, docker.Volume]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = [docker.NetworkLabelArgs(label="org.ora.stack", value=args.stack)]
        self.edge = docker.Network(
            f"{name}-edge",
            name=f"ora-{args.stack}-edge",
            driver="bridge",
            labels=labels,
            opts=child,
        )
        self.internal = docker.Network(
            f"{name}-internal",
            name=f"ora-{args.stack}-internal",
            driver="bridge",
            internal=True,
            labels=labels,
            opts=child,
        )
        # Data volumes are never deleted by `pulumi destroy` by accident: protect them.
        keep = pulumi.ResourceOptions(parent=self, protect=args.stack != "dev")
        self.volumes = {
            volume: docker.Volume(
                f"{name}-{volume}",
                name=f"ora-{args.stack}-{volume}",
                labels=[docker.VolumeLabelArgs(label="org.ora.stack", value=args.stack)],
                opts=keep,
            )
            for volume in VOLUMES
        }
        for volume in (*INSTALLED_VOLUMES, *LOG_VOLUMES):
            self.volumes[volume] = docker.Volume(
                f"{name}-{volume}",
                name=f"ora-{args.stack}-{volume}",
                labels=[docker.VolumeLabelArgs(label="org.ora.stack", value=args.stack)],
                opts=child,
            )
        self.register_outputs(
            {
                "edge": self.edge.name,
                "internal": self.internal.name,
                "volumes": {k: v.name for k, v in self.volumes.items()},
            }
        )

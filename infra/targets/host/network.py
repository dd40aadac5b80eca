"""Networks and named volumes: the only shared state between containers."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.targets import monitoring_networks

VOLUMES = ("qdrant-data", "redis-data", "app-data", "static", "acme-webroot")
# Filled by one-shot installers (infra/targets/host/oneshot.py): each service's secrets, so
# no service can read another's (infra/targets/host/secret_files.py), and the edge's releases
# (infra/edge/release.py). Rewritten on every change, so not protected like the data.
INSTALLED_VOLUMES = ("redis-secrets", "qdrant-secrets", "app-secrets", "edge-config")
EDGE_STATE_VOLUME = "edge-state"  # the nginx launcher's reload acknowledgements

# The edge network has a fixed subnet so that each app replica gets a static address,
# written into nginx's upstream block: a replica that restarts (or a host that reboots)
# keeps it, so nginx never points at an address Docker gave to nobody or to another
# container. Docker hands out the first /24 to the other containers (nginx); replicas
# take addresses above it, a block of MAX_REPLICAS per generation (infra/targets/host/app.py).
EDGE_SUBNET = ipaddress.ip_network("172.29.0.0/16")
EDGE_DYNAMIC_RANGE = ipaddress.ip_network("172.29.0.0/24")
MAX_REPLICAS = topology.MAX_APP_REPLICAS  # appReplicas' upper bound
_FIRST_STATIC = int(EDGE_DYNAMIC_RANGE.broadcast_address) + 1
# Blocks of MAX_REPLICAS between the dynamic range and the broadcast address.
REPLICA_BLOCKS = (int(EDGE_SUBNET.broadcast_address) - _FIRST_STATIC) // MAX_REPLICAS


def replica_address(generation: str, index: int) -> str:
    """The static edge address of replica `index` of a generation (image + secrets).

    A new generation starts next to the old one, so it takes another block: a hash of
    its name picks one of REPLICA_BLOCKS (4079), so two generations share a block once
    in ~4000 rollouts. Then Docker refuses the new replica ("Address already in use"),
    the update fails and the old generation keeps serving."""
    if not 0 <= index < MAX_REPLICAS:
        raise ValueError(f"replica index {index} outside 0..{MAX_REPLICAS - 1}")
    block = int.from_bytes(hashlib.sha256(generation.encode()).digest()[:8]) % REPLICA_BLOCKS
    return str(ipaddress.ip_address(_FIRST_STATIC + block * MAX_REPLICAS + index))


# Log files that monitoring's mtail reads: the edge's JSON access log and app.log, worker.log
# and scheduler.log (topology.EDGE_ACCESS_LOG, APP_LOGS_DIR).
LOG_VOLUMES = ("edge-logs", "app-logs")


@dataclass(frozen=True)
class NetworkArgs:
    stack: str
    monitoring: bool = False  # ora:monitoring: its two networks too


class Network(pulumi.ComponentResource):
    """`edge` joins nginx and the app; `internal` (no route out) joins the app,
    the worker, Qdrant and Redis. With monitoring, `monitoring` (no route out) joins
    the monitoring containers, and `alerting` gives Alertmanager alone a route out to
    the SMTP relay: no monitoring container listens on a network the app is on
    (infra/monitoring/specs.py: NETWORKS). Volumes outlive every container."""

    edge: docker.Network
    internal: docker.Network
    monitoring: docker.Network | None
    alerting: docker.Network | None
    volumes: dict[str, docker.Volume]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = [docker.NetworkLabelArgs(label=topology.STACK_LABEL, value=args.stack)]
        self.edge = docker.Network(
            f"{name}-edge",
            name=topology.name(args.stack, "edge"),
            driver="bridge",
            ipam_configs=[
                docker.NetworkIpamConfigArgs(
                    subnet=str(EDGE_SUBNET), ip_range=str(EDGE_DYNAMIC_RANGE)
                )
            ],
            labels=labels,
            opts=child,
        )
        self.internal = docker.Network(
            f"{name}-internal",
            name=topology.name(args.stack, "internal"),
            driver="bridge",
            internal=True,
            labels=labels,
            opts=child,
        )
        self.monitoring = self.alerting = None
        if args.monitoring:
            self.monitoring, self.alerting = monitoring_networks.declare(
                name, args.stack, driver="bridge", labels=labels, opts=child
            )
        # Data volumes are never deleted by `pulumi destroy` by accident: protect them.
        keep = pulumi.ResourceOptions(parent=self, protect=args.stack != "dev")
        self.volumes = {
            volume: docker.Volume(
                f"{name}-{volume}",
                name=topology.name(args.stack, volume),
                labels=[docker.VolumeLabelArgs(label=topology.STACK_LABEL, value=args.stack)],
                opts=keep,
            )
            for volume in VOLUMES
        }
        for volume in (*INSTALLED_VOLUMES, EDGE_STATE_VOLUME, *LOG_VOLUMES):
            self.volumes[volume] = docker.Volume(
                f"{name}-{volume}",
                name=topology.name(args.stack, volume),
                labels=[docker.VolumeLabelArgs(label=topology.STACK_LABEL, value=args.stack)],
                opts=child,
            )
        self.register_outputs(
            {
                "edge": self.edge.name,
                "internal": self.internal.name,
                **({"monitoring": self.monitoring.name} if self.monitoring else {}),
                **({"alerting": self.alerting.name} if self.alerting else {}),
                "volumes": {k: v.name for k, v in self.volumes.items()},
            }
        )

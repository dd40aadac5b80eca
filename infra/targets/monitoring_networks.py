"""Monitoring's two networks, for both targets (bridges on one host, overlays on swarm):
`monitoring`, internal, where Prometheus reaches the exporters and the stores' metrics,
and `alerting`, Alertmanager's only way out, to the SMTP relay."""

from __future__ import annotations

import pulumi_docker as docker

from infra import topology

ROLES = ("monitoring", "alerting")


def declare(name: str, stack: str, **network_args) -> tuple[docker.Network, docker.Network]:
    """(monitoring, alerting); `network_args` are the target's driver, labels and options."""
    monitoring, alerting = (
        docker.Network(
            f"{name}-{role}",
            name=topology.name(stack, role),
            internal=role == "monitoring",
            **network_args,
        )
        for role in ROLES
    )
    return monitoring, alerting

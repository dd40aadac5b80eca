"""The deployment target of a stack: one Docker host (default) or a Docker Swarm.

Read by `infra.config.parse` through its reader, following config.py's pattern: every
value is checked, and a bad one becomes one problem naming the key, the value and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra import checks
from infra.checks import Invalid

TARGETS = ("host", "swarm")
# Node labels the swarm services are placed by (`docker node update --label-add`).
EDGE_LABEL = "ora.edge"  # the node(s) whose 80/443 nginx publishes in host mode
DATA_LABEL = "ora.data"  # the node holding the Redis and Qdrant volumes


@dataclass(frozen=True)
class Swarm:
    target: str  # host | swarm
    max_replicas_per_node: int  # app replicas one node may run at once
    encrypted_network: bool  # --opt encrypted on the overlay networks

    @property
    def enabled(self) -> bool:
        return self.target == "swarm"


SINGLE_HOST = Swarm(target="host", max_replicas_per_node=2, encrypted_network=False)


def read(r: Any) -> Swarm:
    """`r` is config._Reader; problems are collected on it."""
    swarm = Swarm(
        target=r.get("target", lambda v: checks.choice(v, TARGETS), "host"),
        max_replicas_per_node=r.get(
            "swarmMaxReplicasPerNode", lambda v: checks.integer(v, 0, 16), 2
        ),
        encrypted_network=r.get("swarmEncryptedNetwork", checks.boolean, False),
    )
    if not swarm.enabled:
        return swarm
    if not r.text("appImage"):
        r.fail(
            "appImage",
            "''",
            Invalid(
                "is empty but ora:target is swarm, whose nodes build nothing",
                "build and push app/ in CI, then pulumi config set ora:appImage NAME@sha256:DIGEST",
            ),
        )
    if r.text("tlsMode") == "acme":
        r.fail(
            "tlsMode",
            "'acme'",
            Invalid(
                "is not supported with ora:target swarm (certbot runs on one bootstrapped host)",
                "use provided (a certificate as a secret) or self-signed",
            ),
        )
    if r.text("bootstrapHost") == "true":
        r.fail(
            "bootstrapHost",
            "'true'",
            Invalid(
                "prepares one host, not a swarm",
                "set it to false and form the swarm as the README's swarm section says",
            ),
        )
    return swarm

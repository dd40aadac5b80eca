"""The one place for the stack's names: what its Docker objects are called
(`ora-STACK-…`), the labels they carry, and the endpoints its services reach each other at.

Pure, and it imports nothing of the project: every module reads it, the host tools and the
tests too. A name written anywhere else is a second definition that can drift
(tests/unit/test_topology.py looks for them).
"""

from __future__ import annotations

from dataclasses import dataclass

PROJECT = "ora"

LABEL_PREFIX = f"org.{PROJECT}"
PROJECT_LABEL = f"{LABEL_PREFIX}.project"
STACK_LABEL = f"{LABEL_PREFIX}.stack"
SERVICE_LABEL = f"{LABEL_PREFIX}.service"
ROLE_LABEL = f"{LABEL_PREFIX}.role"  # "oneshot": an installer that ran and exited
SECRETS_REVISION_LABEL = f"{LABEL_PREFIX}.secrets-revision"


def name(stack: str, *parts: str) -> str:
    """The Docker name of one of the stack's objects: `name("dev", "redis")` is
    `ora-dev-redis`; a container, a volume, a network, a swarm service or secret alike."""
    return "-".join((PROJECT, stack, *parts))


def prefix(stack: str, *parts: str) -> str:
    """The start of a name that ends with a generated part (an image tag, a fingerprint)."""
    return f"{name(stack, *parts)}-"


@dataclass(frozen=True)
class Endpoint:
    """Where a service answers on the stack's networks: its DNS alias and port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


APP = Endpoint("app", 8000)  # the web replicas, on `edge` (nginx) and `internal`
WORKER_METRICS = Endpoint("worker", 9100)  # the job worker's /metrics, on `internal`
QDRANT = Endpoint("qdrant", 6333)  # on `internal`
REDIS = Endpoint("redis", 6379)  # on `internal`

"""The one place for the stack's names: what its Docker objects are called
(`ora-STACK-…`), the labels they carry, and the endpoints its services reach each other at.

Pure, and it imports nothing of the project: every module reads it, the host tools and the
tests too. A name written anywhere else is a second definition that can drift
(tests/unit/test_topology.py looks for them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The checkout: app/, the templates, scripts/backup.sh and the host tools are read from it.
REPO_ROOT = Path(__file__).resolve().parent.parent

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


# At most this many app replicas (ora:appReplicas): each has a static edge address.
MAX_APP_REPLICAS = 16

# Where every service finds its secrets, as files (0400, never in its environment).
SECRETS_DIR = "/run/secrets"


def secret_path(file: str) -> str:
    """Where a service finds its secret `file`."""
    return f"{SECRETS_DIR}/{file}"


# Log files that monitoring's mtail counts: the app's, worker's and scheduler's, and the
# edge's JSON access log. The same paths inside every container that writes or reads them.
APP_LOGS_DIR = "/opt/ora/logs"
EDGE_LOGS_DIR = "/var/log/ora-edge"
EDGE_ACCESS_LOG = f"{EDGE_LOGS_DIR}/access.log"

# Shared intervals: the worker's scheduler loop (the SchedulerStale alert is a multiple of
# it), and the per-container metrics writer's (Prometheus' standard scrape interval; the
# ContainerMetricsStale alert is a multiple of it).
SCHEDULER_INTERVAL_SECONDS = 60
CONTAINER_METRICS_INTERVAL_SECONDS = 15


def label_values(
    service: str, stack: str, role: str | None = None, revision: object = None
) -> dict[str, object]:
    """The labels of a service's container or task. `role` marks one-shot containers;
    `revision` (a value or a Pulumi Output) ties a service to the secrets it read."""
    values: dict[str, object] = {PROJECT_LABEL: PROJECT, STACK_LABEL: stack, SERVICE_LABEL: service}
    if role:
        values[ROLE_LABEL] = role
    if revision is not None:
        values[SECRETS_REVISION_LABEL] = revision
    return values

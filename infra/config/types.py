"""The types of a stack's configuration: one frozen dataclass per section, the whole
`StackConfig`, and the `Problem`s that `ConfigError` lists.

Data only, importing nothing of the project: the section readers (sections.py,
monitoring.py, target.py) build these values, and every component receives them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TARGETS = ("host", "swarm")  # ora:target: one Docker engine, or Docker Swarm services


@dataclass(frozen=True)
class Problem:
    key: str
    value: str
    reason: str
    fix: str

    def __str__(self) -> str:
        end = "" if self.fix.endswith((".", "?")) else "."
        return f"ora:{self.key} = {self.value}: {self.reason}. Fix: {self.fix}{end}"


class ConfigError(Exception):
    def __init__(self, stack: str, problems: list[Problem]) -> None:
        self.problems = problems
        count = f"{len(problems)} configuration error{'s' if len(problems) > 1 else ''}"
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"stack {stack!r} has {count}; nothing was changed:\n{lines}")


@dataclass(frozen=True)
class HostAccess:
    """How the program reaches the Docker host over SSH, and whether it prepares it."""

    host: str
    ssh_user: str
    ssh_port: int
    bootstrap: bool
    bootstrap_user: str
    # OpenSSH public key lines installed for ssh_user (the Docker provider's login):
    # the operators' unrestricted, CI's restricted to the Docker API (infra/bootstrap/access.py).
    deploy_keys: tuple[str, ...] = ()
    ci_keys: tuple[str, ...] = ()

    @property
    def is_remote(self) -> bool:
        return bool(self.host)

    @property
    def docker_host(self) -> str | None:
        """The DOCKER_HOST for the provider; None means the local engine."""
        if not self.is_remote:
            return None
        port = "" if self.ssh_port == 22 else f":{self.ssh_port}"
        return f"ssh://{self.ssh_user}@{self.host}{port}"


@dataclass(frozen=True)
class Edge:
    domain: str
    allowed_hosts: tuple[str, ...]
    bind_address: str
    http_port: int
    https_port: int
    tls_mode: str
    acme_email: str
    acme_server: str
    rate_limit: str
    rate_limit_burst: int
    conn_limit: int
    client_max_body_size: str
    maintenance: bool
    workers: str  # nginx worker_processes: a count or auto
    nginx_version: tuple[int, ...]
    openssl_version: tuple[int, ...]

    @property
    def url(self) -> str:
        port = "" if self.https_port == 443 else f":{self.https_port}"
        return f"https://{self.domain}{port}"


@dataclass(frozen=True)
class Images:
    app: str | None  # None: build app/ on the Docker host
    nginx: str
    redis: str
    qdrant: str
    # `make rollback` (infra/deploys.py): run app_rollback while the stack would otherwise
    # deploy app_rollback_from; both set or both None.
    app_rollback: str | None = None
    app_rollback_from: str | None = None


@dataclass(frozen=True)
class Sizes:
    app_replicas: int
    app_workers: int
    memory_mb: Mapping[str, int]


@dataclass(frozen=True)
class Service:
    log_level: str
    smtp_host: str
    smtp_port: int
    smtp_user: str
    search_requires_key: bool
    diagnostic_jobs: bool
    write_rate_per_minute: int


@dataclass(frozen=True)
class Monitoring:
    enabled: bool
    error_rate_percent: int  # 5xx share of edge requests over 10 minutes
    response_time_seconds: float  # p95 of edge request time over 10 minutes
    log_growth_percent: int  # last 10 minutes against the past hour's 10-minute average
    log_growth_floor_bytes: int  # below this many bytes in 10 minutes a stream never alerts
    queue_depth: int  # ready jobs
    dead_letters: int  # dead-lettered jobs
    job_failure_percent: int  # failed share of a job kind's attempts over 10 minutes
    emails: tuple[str, ...]  # alert and report recipients
    retention: str  # Prometheus --storage.tsdb.retention.time
    retention_size: str  # Prometheus --storage.tsdb.retention.size
    grafana: bool  # run Grafana (a part of monitoring; off where its image cannot run)
    timing: str  # monitoring.TIMINGS key: the production durations, or the e2e's short ones
    smtp_ca_certificate: str  # PEM of the CA the SMTP relay's certificate chains to ("" = system)
    runbook_url: str  # https address of docs/runbook.md, "" = the emails name the file


@dataclass(frozen=True)
class SwarmNode:
    """One line of ora:swarmNodes: a node the bootstrap reaches over SSH."""

    host: str  # SSH address (DNS name or IP)
    role: str  # manager | worker
    labels: tuple[str, ...]  # of target.NODE_LABELS, set to true on the node
    advertise: str  # the IP the swarm advertises (defaults to host when host is an IP)


@dataclass(frozen=True)
class Swarm:
    target: str  # one of TARGETS
    max_replicas_per_node: int  # app replicas one node may run at once
    encrypted_network: bool  # --opt encrypted on the overlay networks
    # Formed by the bootstrap over SSH (infra/bootstrap/swarm.py); empty: formed by hand.
    nodes: tuple[SwarmNode, ...] = ()
    address_pool: str = ""  # swarm init --default-addr-pool; empty: Docker's 10.0.0.0/8
    # ora:swarmDataNodeMoved: the operator moved the stores to the new ora.data node.
    data_node_moved: bool = False

    @property
    def enabled(self) -> bool:
        return self.target == "swarm"


SINGLE_HOST = Swarm(target="host", max_replicas_per_node=2, encrypted_network=False)


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    access: HostAccess
    edge: Edge
    images: Images
    sizes: Sizes
    service: Service
    monitoring: Monitoring
    generate_secrets: bool
    backup_schedule: str
    backup_textfile_dir: str
    backup_offsite_repository: str
    backup_offsite_known_hosts: str
    # Names of secrets the operator set; their values live only in `secrets`.
    secrets_set: frozenset[str]
    # ora:target: host (one Docker engine, the default) or swarm (infra/config/target.py)
    swarm: Swarm = SINGLE_HOST
    # key -> pulumi Output[str] marked secret; filled by `load`, empty under `parse`.
    secrets: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

"""Monitoring on the swarm target: the same containers as on one host (infra/monitoring/specs.py)
as Swarm services, reading the same rendered files (infra/monitoring/files.py) as Swarm
configs mounted where the host target's installer puts them.

Where each runs (PLACEMENT):
- node-exporter and mtail: global, one task on every node; Prometheus finds them by DNS
  (their names answer every task's address in dnsrr mode) and the log-growth alert sums
  mtail's counters over the nodes;
- Prometheus, Alertmanager and Grafana: on a manager, their volumes on it. A manager that
  is lost takes their history with it; the task starts again on another manager, empty;
- blackbox and the Redis exporter: anywhere.

Nothing publishes a port: as on one host, `make tunnel` reaches them. `monitoring` is an
internal overlay; only Alertmanager joins `alerting`, the overlay with a route out (the
SMTP relay); Prometheus joins `internal` to scrape the app, the worker and Qdrant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.config import StackConfig
from infra.monitoring import specs
from infra.monitoring.runtime import BLACKBOX_CA, CURRENT, DEFAULT_RUNTIME, MonitoringRuntime
from infra.services import baseline, nginx
from infra.targets import monitoring_secrets
from infra.targets.swarm import secrets as swarm_secrets
from infra.targets.swarm import service as swarm_service
from infra.targets.swarm import spec as swarm_spec

MANAGER = "node.role == manager"


@dataclass(frozen=True)
class Placement:
    replicas: int | None  # None: global
    constraints: tuple[str, ...] = ()


PLACEMENT = {
    "prometheus": Placement(1, (MANAGER,)),
    "alertmanager": Placement(1, (MANAGER,)),
    "grafana": Placement(1, (MANAGER,)),
    "node-exporter": Placement(None),
    "mtail": Placement(None),
    "blackbox-exporter": Placement(1),
    "redis-exporter": Placement(1),
}
# The files under CURRENT each service reads (the host target mounts them all).
READS = {
    "prometheus": "prometheus/",
    "alertmanager": "alertmanager/",
    "blackbox-exporter": "blackbox/",
    "mtail": "mtail/",
    "grafana": "grafana/",
}
# Jobs with a task on every node.
DISCOVERED = ("node", "mtail")  # node-exporter's and mtail's jobs


# Swarm puts a task's names in DNS only once it is healthy (moby's swarm executor activates
# the service binding after the healthcheck passes): Prometheus cannot listen on its own
# alias as on one host (specs.PROMETHEUS_LISTEN), so on swarm it listens on every address
# of its task, `internal` included, where the app can reach its read-only API.
PROMETHEUS_LISTEN = ":9090"


def runtime(config: StackConfig) -> MonitoringRuntime:
    """The host target's topology, with the global services found by DNS and Prometheus
    scraping itself on loopback."""
    base = specs.runtime(config)
    targets = {**base.targets, "prometheus": DEFAULT_RUNTIME.targets["prometheus"]}
    return dataclasses.replace(base, discovered=DISCOVERED, targets=targets)


def services(config: StackConfig) -> tuple[specs.Service, ...]:
    """specs.services, with Prometheus listening as a swarm task can (PROMETHEUS_LISTEN),
    and no textfile directory: what writes it (backups, ora-container-metrics) are timers
    of a bootstrapped host."""
    no_textfile = dataclasses.replace(config, backup_textfile_dir="")
    return tuple(_on_swarm(service) for service in specs.services(no_textfile))


def _on_swarm(service: specs.Service) -> specs.Service:
    if service.name != "prometheus":
        return service
    flag = "--web.listen-address="
    command = tuple(
        f"{flag}{PROMETHEUS_LISTEN}" if arg.startswith(flag) else arg for arg in service.command
    )
    return dataclasses.replace(service, command=command, listen_host="localhost")


@dataclass(frozen=True)
class SwarmMonitoringArgs:
    config: StackConfig
    # Path under CURRENT -> text: infra/monitoring/files.py, for runtime(config)
    files: Mapping[str, str]
    secrets: Mapping[str, pulumi.Output]  # qdrantApiKey, smtpPassword, ...
    redis_exporter_password: pulumi.Output  # Redis's INFO-only user (services/redis_acl.py)
    certificate_pem: pulumi.Output | None  # self-signed: the CA the probe trusts
    networks: Mapping[str, docker.Network]  # monitoring, internal, alerting
    depends_on: list[pulumi.Resource]


class SwarmMonitoring(pulumi.ComponentResource):
    services: dict[str, docker.Service]
    grafana_password: pulumi.Output | None  # only when generated (dev), for the export

    def __init__(
        self, name: str, args: SwarmMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("ora:infra:SwarmMonitoring", name, None, opts)
        cfg = args.config
        self._name, self._stack = name, cfg.stack
        configs = self._configs(cfg, args.files, args.certificate_pem)
        found = monitoring_secrets.secret_files(
            name, cfg, args.secrets, args.redis_exporter_password, self
        )
        self.grafana_password = found.grafana_password
        self.services = {}
        for service in services(cfg):
            reads = READS.get(service.name)
            mounted = [m for path, m in configs.items() if reads and path.startswith(reads)]
            secrets = [
                swarm_secrets.mount(
                    swarm_secrets.secret(
                        f"{name}-{service.name}-{file}",
                        cfg.stack,
                        file,
                        found.files[file],
                        self,
                    ),
                    file,
                    f"{service.uid}:{service.uid}",
                )
                for file in service.secrets
            ]
            self.services[service.name] = self._service(service, mounted, secrets, args)
        self.register_outputs({"services": {k: s.name for k, s in self.services.items()}})

    def _configs(self, cfg: StackConfig, files: Mapping[str, str], certificate_pem) -> dict:
        """Relative path under CURRENT -> its config mount."""
        mounts = {}
        for path, text in sorted(files.items()):
            found, _ = swarm_secrets.config(
                f"{self._name}-{swarm_secrets.config_name(path)}", cfg.stack, text, self
            )
            mounts[path] = swarm_secrets.config_mount(found, f"{CURRENT}/{path}")
        if cfg.edge.tls_mode == "self-signed" and certificate_pem is not None:
            found = swarm_secrets.config_of_output(
                f"{self._name}-{swarm_secrets.config_name(BLACKBOX_CA)}",
                cfg.stack,
                certificate_pem,
                self,
            )
            mounts[BLACKBOX_CA] = swarm_secrets.config_mount(found, f"{CURRENT}/{BLACKBOX_CA}")
        return mounts

    def _volumes(self, service: specs.Service) -> list[tuple[str, str, bool]]:
        """(volume, path, read-only): node-local volumes, created where the task runs."""
        stack = self._stack
        found = []
        if service.data_path:
            found.append((topology.name(stack, f"{service.name}-data"), service.data_path, False))
        if service.mounts_logs:
            found += [
                (topology.name(stack, "edge-logs"), nginx.LOGS_DIR, True),
                (topology.name(stack, "app-logs"), specs.APP_LOGS_DIR, True),
            ]
        if service.mounts_docker_root:
            # Any volume lives on Docker's data root: node-exporter sees its filesystem.
            found.append((topology.name(stack, "node-exporter-root"), "/var/lib/docker", True))
        return found

    def _service(self, service: specs.Service, configs, secrets, args) -> docker.Service:
        placement = PLACEMENT[service.name]
        spec = baseline.Baseline(
            service=service.name,
            stack=self._stack,
            memory_mb=service.memory_mb,
            healthcheck=service.healthcheck,
            secrets_revision=pulumi.Output.all(*[s.secret_name for s in secrets]).apply(
                lambda names: swarm_secrets.content_tag(" ".join(names))
            ),
        )
        volumes = self._volumes(service)
        stateful = bool(volumes) or placement.replicas is None
        task = swarm_spec.Task(
            image=service.image,
            user=f"{service.uid}:{service.uid}",
            args=list(service.command) or None,
            env=list(service.envs),
            # Its alias on `monitoring` only: nobody on `internal` resolves it.
            networks=[
                (args.networks[net].id, [service.name] if net == "monitoring" else [])
                for net in service.networks
            ],
            volumes=volumes,
            secrets=secrets,
            configs=configs,
            constraints=placement.constraints,
            replicas=placement.replicas,
            # One writer per volume; one mtail per node's logs.
            rollout=swarm_spec.STOP_FIRST if stateful else swarm_spec.Rollout(),
        )
        return swarm_service.declare(
            f"{self._name}-{service.name}", spec, task, self, args.depends_on
        )

"""What each monitoring container is, as plain data: image, user, limits, command, files.

No resources here (infra/targets/host/monitoring.py creates them, and assembles the files the
renderers and the dashboard write). Every path a container reads is under CONFIG_ROOT (the
monitoring-config volume, filled by a one-shot installer) or /run/secrets (its own secrets
volume, infra/targets/host/secret_files.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra import topology
from infra.config import StackConfig
from infra.monitoring.runtime import (
    BLACKBOX_CA,
    CONFIG_ROOT,
    CURRENT,
    DEFAULT_RUNTIME,
    GRAFANA_PASSWORD_FILE,
    QDRANT_KEY_FILE,
    REDIS_PASSWORDS_FILE,
    SMTP_PASSWORD_FILE,
    STAGING,
    MonitoringRuntime,
    with_timing,
)
from infra.services import baseline, nginx, redis_acl
from infra.topology import APP_LOGS_DIR

NOBODY = "65534"  # the user of the prom/* images
# Official images, pinned by tag and digest. mtail's digest could not be resolved on this
# machine (no registry): pin it with `docker buildx imagetools inspect` (UNPINNED).
IMAGES = {
    "prometheus": "prom/prometheus:v3.5.0@sha256:63805ebb8d2b3920190daf1cb14a60871b16fd38bed42b857a3182bc621f4996",  # noqa: E501
    "alertmanager": "prom/alertmanager:v0.28.1@sha256:27c475db5fb156cab31d5c18a4251ac7ed567746a2483ff264516437a39b15ba",  # noqa: E501
    "node-exporter": "prom/node-exporter:v1.9.1@sha256:d00a542e409ee618a4edc67da14dd48c5da66726bbd5537ab2af9c1dfc442c8a",  # noqa: E501
    "blackbox-exporter": "prom/blackbox-exporter:v0.27.0@sha256:a50c4c0eda297baa1678cd4dc4712a67fdea713b832d43ce7fcc5f9bea05094d",  # noqa: E501
    "grafana": "grafana/grafana:11.6.16@sha256:d67af92050b8d93b393dc741864752a69c9da1ffa39c1bb9af49ad5d9e47d2c3",  # noqa: E501
    "redis-exporter": "oliver006/redis_exporter:v1.73.0@sha256:1a8f5e48b2af0fb02d182be3ddd623e7e39881b6464bdb5bf843b1f6d45ed050",  # noqa: E501
    "mtail": "ghcr.io/google/mtail:3.0.8",
}
UNPINNED = frozenset({"mtail"})
# The one-shot installers (config and secrets) need only sh, cp, chmod, chown and mv.
INSTALLER_IMAGE = "prometheus"
# node-exporter's textfile collector reads the host's ora:backupTextfileDir here: ora_backup.prom
# (scripts/backup.sh) and ora_containers.prom (infra/hosttools/container_metrics.py).
TEXTFILE_MOUNT = "/var/lib/node-exporter/textfile"


@dataclass(frozen=True)
class Service:
    name: str  # container suffix, org.ora.service label and alias on the internal network
    uid: str
    memory_mb: int
    port: int
    health_path: str  # HTTP path wget asks for, or "exec:COMMAND ARGS"
    command: tuple[str, ...]
    networks: tuple[str, ...] = ("monitoring",)  # the first carries its alias; see NETWORKS
    listen_host: str = "127.0.0.1"  # where its healthcheck asks
    data_path: str | None = None  # a named volume of its own
    secrets: tuple[str, ...] = ()  # secret file names, in its own secrets volume
    envs: tuple[str, ...] = ()
    mounts_logs: bool = False  # the edge's access log and the app's log files, read-only
    mounts_docker_root: bool = False  # a volume, so statfs sees the Docker data root
    textfile_dir: str = ""  # a host directory, read-only at TEXTFILE_MOUNT

    @property
    def healthcheck(self) -> baseline.Healthcheck:
        if self.health_path.startswith("exec:"):
            return baseline.Healthcheck(test=["CMD", *self.health_path[5:].split()])
        url = f"http://{self.listen_host}:{self.port}{self.health_path}"
        return baseline.Healthcheck(test=["CMD", "wget", "-q", "-O", "/dev/null", url])

    @property
    def image(self) -> str:
        return IMAGES[self.name]


# Every monitoring container joins `monitoring` (no route out; infra/targets/host/network.py), where
# nginx (blackbox's probe target) and Redis (the exporter's, as an INFO-only user) also
# sit. Two join one more network, for a reason; none joins `edge`, so the app (on `edge`
# and `internal`) reaches no monitoring port:
# - Prometheus joins `internal` to scrape the app replicas, the worker and Qdrant, but
#   listens only on its `monitoring` address (PROMETHEUS_LISTEN);
# - Alertmanager joins `alerting`, a route out of its own, to reach the SMTP relay.
NETWORKS = {
    "prometheus": {"internal": "scrapes app, worker and qdrant; listens on monitoring only"},
    "alertmanager": {"alerting": "the SMTP relay"},
}
# Its alias on `monitoring`: a listener on this name is bound to that address alone.
PROMETHEUS_LISTEN = "prometheus:9090"


@dataclass(frozen=True)
class Plan:
    services: tuple[Service, ...]
    files: dict[str, str] = field(default_factory=dict)  # path under CURRENT -> text
    runtime: MonitoringRuntime | None = None


def runtime(config: StackConfig) -> MonitoringRuntime:
    tls = BLACKBOX_CA if config.edge.tls_mode == "self-signed" else ""
    edge = topology.name(config.stack, "nginx")  # blackbox probes the edge's container
    return with_timing(
        config.monitoring.timing,
        config_dir=f"{CURRENT}/prometheus",
        alertmanager_dir=f"{CURRENT}/alertmanager",
        secrets_dir=topology.SECRETS_DIR,
        access_log=nginx.ACCESS_LOG_FILE,
        blackbox_ca_file=f"{CURRENT}/{tls}" if tls else "",
        probe_url=f"https://{edge}:{nginx.RUNTIME.listen_https}/healthz",
        # It listens on its `monitoring` address only, not on loopback.
        targets={**DEFAULT_RUNTIME.targets, "prometheus": PROMETHEUS_LISTEN},
    )


def services(config: StackConfig) -> tuple[Service, ...]:
    m, cur = config.monitoring, CURRENT
    found = [
        Service(
            "prometheus",
            NOBODY,
            512,
            9090,
            "/-/ready",
            (
                f"--config.file={cur}/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                f"--storage.tsdb.retention.time={m.retention}",
                f"--storage.tsdb.retention.size={m.retention_size}",
                f"--web.listen-address={PROMETHEUS_LISTEN}",
            ),
            networks=("monitoring", "internal"),
            listen_host=PROMETHEUS_LISTEN.split(":")[0],
            data_path="/prometheus",
            secrets=(QDRANT_KEY_FILE,),
        ),
        Service(
            "alertmanager",
            NOBODY,
            96,
            9093,
            "/-/ready",
            (
                f"--config.file={cur}/alertmanager/alertmanager.yml",
                "--storage.path=/alertmanager",
                "--web.listen-address=:9093",
                "--cluster.listen-address=",  # one instance: no gossip port
            ),
            networks=("monitoring", "alerting"),
            data_path="/alertmanager",
            # Its config names the file only with SMTP auth (ora:smtpUser, which requires
            # ora:smtpPassword); without it there is nothing to write, and pulumi-docker
            # refuses an empty upload.
            secrets=(SMTP_PASSWORD_FILE,) if config.service.smtp_user else (),
        ),
        Service(
            "node-exporter",
            NOBODY,
            64,
            9100,
            "/",
            ("--web.listen-address=:9100", *textfile_flags(config.backup_textfile_dir)),
            mounts_docker_root=True,
            textfile_dir=config.backup_textfile_dir,
        ),
        Service(
            "blackbox-exporter",
            NOBODY,
            64,
            9115,
            "/-/healthy",
            (f"--config.file={cur}/blackbox/blackbox.yml", "--web.listen-address=:9115"),
        ),
        Service(
            "mtail",
            NOBODY,
            96,
            3903,
            "/",
            (
                *("-progs", f"{cur}/mtail", "-port", "3903"),
                *("-logs", nginx.ACCESS_LOG_FILE, "-logs", f"{APP_LOGS_DIR}/*.log"),
            ),
            mounts_logs=True,
        ),
        Service(
            "redis-exporter",
            NOBODY,
            64,
            9121,
            # A scratch image, no HTTP client: the binary runs (Prometheus' TargetDown
            # alert is what watches the endpoint).
            "exec:/redis_exporter -version",
            (
                f"-redis.addr=redis://{topology.REDIS}",
                f"-redis.user={redis_acl.EXPORTER_USER}",
                f"-redis.password-file={topology.secret_path(REDIS_PASSWORDS_FILE)}",
                "-config-command=-",  # CONFIG GET * would return the app's password
                "-web.listen-address=:9121",
            ),
            secrets=(REDIS_PASSWORDS_FILE,),
        ),
    ]
    if m.grafana:
        found.append(
            Service(
                "grafana",
                "472",  # the grafana user of the official image
                256,
                3000,
                "/api/health",
                (),
                data_path="/var/lib/grafana",
                secrets=(GRAFANA_PASSWORD_FILE,),
                envs=GRAFANA_ENV,
            )
        )
    return tuple(found)


def textfile_flags(textfile_dir: str) -> tuple[str, ...]:
    return (f"--collector.textfile.directory={TEXTFILE_MOUNT}",) if textfile_dir else ()


GRAFANA_ENV = (
    f"GF_PATHS_PROVISIONING={CURRENT}/grafana/provisioning",
    "GF_SECURITY_ADMIN_USER=admin",
    f"GF_SECURITY_ADMIN_PASSWORD__FILE={topology.secret_path(GRAFANA_PASSWORD_FILE)}",
    "GF_AUTH_ANONYMOUS_ENABLED=false",
    "GF_AUTH_BASIC_ENABLED=true",
    "GF_USERS_ALLOW_SIGN_UP=false",
    "GF_SECURITY_DISABLE_GRAVATAR=true",
    "GF_ANALYTICS_REPORTING_ENABLED=false",
    "GF_ANALYTICS_CHECK_FOR_UPDATES=false",
    "GF_SERVER_HTTP_PORT=3000",
    "GF_LOG_MODE=console",
)


def install_script(root: str = CONFIG_ROOT, staging: str = STAGING) -> str:
    """The installer's shell: the new files replace `current` whole, world-readable."""
    return f"""set -eu
rm -rf "{root}/.next"
mkdir -p "{root}/.next"
cp -R "{staging}/." "{root}/.next/"
chmod -R u=rwX,go=rX "{root}/.next"
rm -rf "{root}/current"
mv "{root}/.next" "{root}/current"
rm -rf "{staging}"
echo "monitoring: configuration installed"
"""

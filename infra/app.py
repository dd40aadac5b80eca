"""The Ora service: N web replicas behind nginx, plus one job worker.

Replicas are named after the image they run, so a new image creates new
containers first (each waits for its healthcheck). Each replica has a static edge
address (infra/network.py); nginx's upstream block names them (`upstream_servers`),
its installer waits until nginx has reloaded onto them, and only then does Pulumi
remove the old ones, so a rollout drops no request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import apikeys, hardening, images, network, qdrant, redis, secret_files, topology
from infra.config import StackConfig
from infra.monitoring_rules import SCHEDULER_INTERVAL_SECONDS

UID = "10001"  # the ora user baked into app/Dockerfile
PORT = topology.APP.port
ALIAS = topology.APP.host
DATA_DIR = "/data"
STATIC_DIR = "/srv/static"
LOGS_DIR = "/opt/ora/logs"  # the app-logs volume: app.log, worker.log, scheduler.log
PYTHON = "/opt/venv/bin/python"
WORKER_HEARTBEAT = "/tmp/ora-worker.heartbeat"
# Prometheus scrapes the worker's /metrics at topology.WORKER_METRICS on `internal`
# (infra/monitoring_render.py's `targets`).
WORKER_ALIAS = topology.WORKER_METRICS.host
WORKER_METRICS_PORT = topology.WORKER_METRICS.port

WEB_HEALTHCHECK = hardening.Healthcheck(
    test=[
        "CMD",
        PYTHON,
        "-c",
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{PORT}/healthz', timeout=3)",
    ],
    interval="5s",
    timeout="4s",
)
# The worker touches its heartbeat file on every loop; stale for 60 s means stuck.
WORKER_HEALTHCHECK = hardening.Healthcheck(
    test=[
        "CMD",
        PYTHON,
        "-c",
        "import os, sys, time; "
        f"sys.exit(time.time() - os.path.getmtime('{WORKER_HEARTBEAT}') > 60)",
    ]
)


@dataclass(frozen=True)
class AppSettings:
    """The plain (non-secret) environment of the app and the worker."""

    allowed_hosts: tuple[str, ...]
    log_level: str
    workers: int
    search_requires_key: bool
    diagnostic_jobs: bool
    write_rate_per_minute: int


def settings_of(cfg: StackConfig) -> AppSettings:
    """The app's plain settings, from the stack config (both targets)."""
    return AppSettings(
        allowed_hosts=cfg.edge.allowed_hosts,
        log_level=cfg.service.log_level,
        workers=cfg.sizes.app_workers,
        search_requires_key=cfg.service.search_requires_key,
        diagnostic_jobs=cfg.service.diagnostic_jobs,
        write_rate_per_minute=cfg.service.write_rate_per_minute,
    )


def plain_env(settings: AppSettings) -> list[str]:
    return [
        f"QDRANT_URL=http://{qdrant.ALIAS}:{qdrant.HTTP_PORT}",
        f"REDIS_HOST={redis.ALIAS}",
        f"REDIS_PORT={redis.PORT}",
        f"ALLOWED_HOSTS={','.join(settings.allowed_hosts)}",
        f"LOG_LEVEL={settings.log_level}",
        f"WEB_CONCURRENCY={settings.workers}",
        f"PORT={PORT}",
        f"WORKER_METRICS_PORT={WORKER_METRICS_PORT}",
        # the SchedulerStale alert's threshold is a multiple of this interval
        f"LOOP_HEALTH_INTERVAL={SCHEDULER_INTERVAL_SECONDS}",
        f"DATA_DIR={DATA_DIR}",
        f"STATIC_EXPORT_DIR={STATIC_DIR}",
        f"SEARCH_REQUIRES_KEY={str(settings.search_requires_key).lower()}",
        f"DIAGNOSTIC_JOBS={str(settings.diagnostic_jobs).lower()}",
        f"WRITE_RATE_PER_MINUTE={settings.write_rate_per_minute}",
    ]


# The app's secret settings -> (stack config key, file name under /run/secrets). The app
# reads NAME_FILE (app/ora/settings.py); no secret is ever a value in its environment.
SECRET_FILES = {
    "REDIS_PASSWORD": ("redisPassword", "redis-password"),
    "QDRANT_API_KEY": ("qdrantApiKey", "qdrant-api-key"),
    "SECRET_KEY": ("secretKey", "secret-key"),
    "OPENAI_API_KEY": ("openaiApiKey", "openai-api-key"),
}


def secret_inputs(secrets) -> dict:
    """The app's secret inputs from the stack's `Secrets`: the files' values and the API key
    hashes, as AppArgs and SwarmAppArgs take them (both targets)."""
    return {
        "secrets": {
            key: secrets.values[key]
            for key, _file in SECRET_FILES.values()
            if key in secrets.values
        },
        "api_key_hashes": pulumi.Output.secret(secrets.get("apiKeys").apply(apikeys.hash_file)),
    }


def common_args(cfg: StackConfig, secrets) -> dict:
    """What AppArgs and SwarmAppArgs both take from the config and the stack's `Secrets`."""
    return {
        "stack": cfg.stack,
        "replicas": cfg.sizes.app_replicas,
        "memory_mb": cfg.sizes.memory_mb["app"],
        "worker_memory_mb": cfg.sizes.memory_mb["worker"],
        "settings": settings_of(cfg),
        **secret_inputs(secrets),
    }


API_KEYS_FILE = "api-keys"  # hashes only (infra/apikeys.py)


def secret_env(present: frozenset[str]) -> list[str]:
    """NAME_FILE variables for the secrets the stack has; unset optional ones stay unset."""
    files = [(var, file) for var, (key, file) in SECRET_FILES.items() if key in present]
    return [f"{var}_FILE={secret_files.path(file)}" for var, file in files] + [
        f"API_KEYS_FILE={secret_files.path(API_KEYS_FILE)}"
    ]


def secret_file_contents(
    secrets: Mapping[str, pulumi.Output], api_key_hashes: pulumi.Output
) -> dict[str, pulumi.Output]:
    files = {file: secrets[key] for key, file in SECRET_FILES.values() if key in secrets}
    return {**files, API_KEYS_FILE: api_key_hashes}


def name_tag(reference: str) -> str:
    """12 characters of `reference` for container names: its digest's first, else its
    tag's last (a local build's `ora-app:dev-<hash>` gives <hash>, as when it was built)."""
    if "@sha256:" in reference:
        return reference.rsplit("@sha256:", 1)[-1][:12]
    tag = reference.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", tag)[-12:]


@dataclass(frozen=True)
class AppArgs:
    stack: str
    image: str | None  # a pinned registry reference, or None to build app/ on the host
    replicas: int
    memory_mb: int
    worker_memory_mb: int
    settings: AppSettings
    secrets: Mapping[str, pulumi.Output]  # the stack's secrets that are set, by config key
    api_key_hashes: pulumi.Output  # the API_KEYS_FILE (infra/apikeys.py)
    edge: docker.Network
    internal: docker.Network
    data: docker.Volume
    static: docker.Volume
    secrets_volume: docker.Volume
    depends_on: list[pulumi.Resource]
    logs: docker.Volume | None = None  # ORA_LOG_DIR's volume


class App(pulumi.ComponentResource):
    replicas: list[docker.Container]
    upstream_servers: pulumi.Output  # list of "IP:PORT", one per replica, static
    worker: docker.Container
    secrets_writer: docker.Container
    image_name: pulumi.Output

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:App", name, None, opts)
        env = [*plain_env(args.settings), *secret_env(frozenset(args.secrets))]
        if args.logs is not None:  # JSON lines also to files on the volume (app/ora/logs.py)
            env.append(f"ORA_LOG_DIR={LOGS_DIR}")
        self._args = args
        if args.image:
            # The digest names the containers, so a new image means new containers.
            self._image_id = images.pinned(f"{name}-image", args.image, self).image_id
            self.image_name = pulumi.Output.from_input(args.image)
            tag = name_tag(args.image)
        else:
            built = images.built_app(f"{name}-image", args.stack, self)
            self._image_id, self.image_name = built.image_name, built.image_name
            tag = images.context_digest()[:12]
        self.secrets_writer = secret_files.writer(
            f"{name}-secrets",
            secret_files.SecretFilesArgs(
                stack=args.stack,
                service="app",
                image_id=self._image_id,
                owner=f"{UID}:{UID}",
                volume=args.secrets_volume,
                files=secret_file_contents(args.secrets, args.api_key_hashes),
            ),
            self,
        )
        self._revision = secret_files.revision(self.secrets_writer)
        # A new image or new secrets: new names, so new containers start before old ones go.
        suffix = self._revision.apply(lambda rev: f"{tag}-{rev[:6]}")
        addresses = [
            suffix.apply(lambda generation, i=i: network.replica_address(generation, i))
            for i in range(args.replicas)
        ]
        self.upstream_servers = pulumi.Output.all(*addresses).apply(
            lambda ips: [f"{ip}:{PORT}" for ip in ips]
        )
        self.replicas = [
            self._container(
                f"{name}-web-{i}",
                pulumi.Output.concat(topology.prefix(args.stack, "app", str(i)), suffix),
                service="app",
                env=env,
                memory_mb=args.memory_mb,
                healthcheck=WEB_HEALTHCHECK,
                command=None,
                aliases=[ALIAS],
                internal_aliases=[ALIAS],
                address=addresses[i],
            )
            for i in range(args.replicas)
        ]
        self.worker = self._container(
            f"{name}-worker",
            pulumi.Output.concat(topology.prefix(args.stack, "worker"), suffix),
            service="worker",
            env=env,
            memory_mb=args.worker_memory_mb,
            healthcheck=WORKER_HEALTHCHECK,
            command=[PYTHON, "-m", "ora.worker"],
            aliases=[],
            internal_aliases=[WORKER_ALIAS],
        )
        self.register_outputs(
            {
                "replicas": [c.name for c in self.replicas],
                "upstreamServers": self.upstream_servers,
                "worker": self.worker.name,
                "image": self.image_name,
            }
        )

    def _logs(self) -> list:
        if self._args.logs is None:
            return []
        return [
            docker.ContainerVolumeArgs(volume_name=self._args.logs.name, container_path=LOGS_DIR)
        ]

    def _container(
        self,
        resource_name,
        container_name,
        *,
        service,
        env,
        memory_mb,
        healthcheck,
        command,
        aliases,
        internal_aliases,
        address=None,
    ):
        args = self._args
        spec = hardening.Baseline(
            service=service,
            stack=args.stack,
            memory_mb=memory_mb,
            healthcheck=healthcheck,
            secrets_revision=self._revision,
        )
        return docker.Container(
            resource_name,
            name=container_name,
            image=self._image_id,
            command=command,
            user=f"{UID}:{UID}",
            envs=env,
            networks_advanced=[
                # Only the web replicas carry the alias nginx (and Prometheus) resolves.
                docker.ContainerNetworksAdvancedArgs(
                    name=args.edge.name, aliases=aliases, ipv4_address=address
                ),
                docker.ContainerNetworksAdvancedArgs(
                    name=args.internal.name, aliases=internal_aliases
                ),
            ],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=args.data.name, container_path=DATA_DIR),
                docker.ContainerVolumeArgs(volume_name=args.static.name, container_path=STATIC_DIR),
                secret_files.mount(args.secrets_volume),
                *self._logs(),
            ],
            **hardening.container_args(spec),
            # New names for a new image or new secrets (above): the new containers start
            # and pass their healthcheck, nginx is reloaded onto them, and the engine
            # deletes the old ones at the end of the update. pulumi-docker would delete
            # them first (its default for containers), dropping requests.
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=False, depends_on=args.depends_on
            ),
        )

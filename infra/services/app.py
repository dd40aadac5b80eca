"""The Ora service as data, for either target: its user, ports, paths, healthchecks, its
plain and secret settings, and the worker's command. No resources here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from infra import topology
from infra.config import StackConfig, apikeys
from infra.services import baseline, qdrant, redis

UID = "10001"  # the ora user baked into app/Dockerfile
PORT = topology.APP.port
ALIAS = topology.APP.host
DATA_DIR = "/data"
STATIC_DIR = "/srv/static"
LOGS_DIR = topology.APP_LOGS_DIR  # the app-logs volume: app.log, worker.log, scheduler.log
# With the app-logs volume mounted: JSON lines also to files there (app/ora/logs.py).
LOG_DIR_ENV = f"ORA_LOG_DIR={LOGS_DIR}"
PYTHON = "/opt/venv/bin/python"
WORKER_HEARTBEAT = "/tmp/ora-worker.heartbeat"
WORKER_COMMAND = [PYTHON, "-m", "ora.worker"]
# Prometheus scrapes the worker's /metrics at topology.WORKER_METRICS on `internal`
# (infra/monitoring/render.py's `targets`).
WORKER_ALIAS = topology.WORKER_METRICS.host
WORKER_METRICS_PORT = topology.WORKER_METRICS.port

WEB_HEALTHCHECK = baseline.Healthcheck(
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
WORKER_HEALTHCHECK = baseline.Healthcheck(
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
        f"LOOP_HEALTH_INTERVAL={topology.SCHEDULER_INTERVAL_SECONDS}",
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


API_KEYS_FILE = "api-keys"  # hashes only (infra/config/apikeys.py)


def secret_env(present: frozenset[str]) -> list[str]:
    """NAME_FILE variables for the secrets the stack has; unset optional ones stay unset."""
    files = [(var, file) for var, (key, file) in SECRET_FILES.items() if key in present]
    return [f"{var}_FILE={topology.secret_path(file)}" for var, file in files] + [
        f"API_KEYS_FILE={topology.secret_path(API_KEYS_FILE)}"
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

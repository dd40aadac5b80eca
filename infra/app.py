"""The Ora service: N web replicas behind nginx, plus one job worker.

Replicas are named after the image they run, so a new image creates new
containers first (each waits for its healthcheck), and only then are the old
ones removed; nginx re-resolves the shared `app` alias every 2 s and retries a
request on another replica, so a rollout drops no request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import hardening, images, qdrant, redis

UID = "10001"  # the ora user baked into app/Dockerfile
PORT = 8000
ALIAS = "app"
DATA_DIR = "/data"
STATIC_DIR = "/srv/static"
PYTHON = "/opt/venv/bin/python"
WORKER_HEARTBEAT = "/tmp/ora-worker.heartbeat"

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
    alert_threshold: int
    workers: int
    smtp_host: str
    smtp_port: int
    smtp_user: str


def plain_env(settings: AppSettings) -> list[str]:
    return [
        f"QDRANT_URL=http://{qdrant.ALIAS}:{qdrant.HTTP_PORT}",
        f"REDIS_HOST={redis.ALIAS}",
        f"REDIS_PORT={redis.PORT}",
        f"ALLOWED_HOSTS={','.join(settings.allowed_hosts)}",
        f"LOG_LEVEL={settings.log_level}",
        f"ALERT_THRESHOLD={settings.alert_threshold}",
        f"WEB_CONCURRENCY={settings.workers}",
        f"PORT={PORT}",
        f"SMTP_HOST={settings.smtp_host}",
        f"SMTP_PORT={settings.smtp_port}",
        f"SMTP_USER={settings.smtp_user}",
        f"DATA_DIR={DATA_DIR}",
        f"STATIC_EXPORT_DIR={STATIC_DIR}",
    ]


SECRET_ENV = {
    "REDIS_PASSWORD": "redisPassword",
    "QDRANT_API_KEY": "qdrantApiKey",
    "SECRET_KEY": "secretKey",
    "OPENAI_API_KEY": "openaiApiKey",
    "SMTP_PASSWORD": "smtpPassword",
}


def secret_env(secrets: Mapping[str, pulumi.Output]) -> list[pulumi.Output]:
    return [
        pulumi.Output.secret(pulumi.Output.format("{0}={1}", var, secrets[key]))
        for var, key in SECRET_ENV.items()
    ]


@dataclass(frozen=True)
class AppArgs:
    stack: str
    image: str | None  # a pinned registry reference, or None to build app/ on the host
    replicas: int
    memory_mb: int
    worker_memory_mb: int
    settings: AppSettings
    secrets: Mapping[str, pulumi.Output]
    edge: docker.Network
    internal: docker.Network
    data: docker.Volume
    static: docker.Volume
    depends_on: list[pulumi.Resource]


class App(pulumi.ComponentResource):
    replicas: list[docker.Container]
    worker: docker.Container
    image_name: pulumi.Output

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:App", name, None, opts)
        env = [*plain_env(args.settings), *secret_env(args.secrets)]
        self._args = args
        if args.image:
            # The digest names the containers, so a new image means new containers.
            self._image_id = images.pinned(f"{name}-image", args.image, self).image_id
            self.image_name = pulumi.Output.from_input(args.image)
            tag = args.image.rsplit("@sha256:", 1)[-1][:12]
        else:
            built = images.built_app(f"{name}-image", args.stack, self)
            self._image_id, self.image_name = built.image_name, built.image_name
            tag = images.context_digest()[:12]
        self.replicas = [
            self._container(
                f"{name}-web-{i}",
                f"ora-{args.stack}-app-{i}-{tag}",
                service="app",
                env=env,
                memory_mb=args.memory_mb,
                healthcheck=WEB_HEALTHCHECK,
                command=None,
                aliases=[ALIAS],
            )
            for i in range(args.replicas)
        ]
        self.worker = self._container(
            f"{name}-worker",
            f"ora-{args.stack}-worker-{tag}",
            service="worker",
            env=env,
            memory_mb=args.worker_memory_mb,
            healthcheck=WORKER_HEALTHCHECK,
            command=[PYTHON, "-m", "ora.worker"],
            aliases=[],
        )
        self.register_outputs(
            {
                "replicas": [c.name for c in self.replicas],
                "worker": self.worker.name,
                "image": self.image_name,
            }
        )

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
    ):
        args = self._args
        spec = hardening.Baseline(
            service=service, stack=args.stack, memory_mb=memory_mb, healthcheck=healthcheck
        )
        return docker.Container(
            resource_name,
            name=container_name,
            image=self._image_id,
            command=command,
            user=f"{UID}:{UID}",
            envs=env,
            networks_advanced=[
                # Only the web replicas carry the alias nginx resolves.
                docker.ContainerNetworksAdvancedArgs(name=args.edge.name, aliases=aliases),
                docker.ContainerNetworksAdvancedArgs(name=args.internal.name),
            ],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=args.data.name, container_path=DATA_DIR),
                docker.ContainerVolumeArgs(volume_name=args.static.name, container_path=STATIC_DIR),
            ],
            **hardening.container_args(spec),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )

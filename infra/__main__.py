"""Wiring only: read the stack's config once, build the components, export outputs."""

import sys
from pathlib import Path

# Pulumi runs this file as a script from infra/; make `infra` importable as a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
import pulumi_docker as docker

from infra import apikeys
from infra.acme import Acme, AcmeArgs
from infra.app import SECRET_FILES, App, AppArgs, AppSettings
from infra.bootstrap import sudo_command
from infra.config import ConfigError, load
from infra.host import Host, HostArgs
from infra.monitoring import Monitoring, MonitoringArgs
from infra.network import Network, NetworkArgs
from infra.nginx import Nginx, NginxArgs
from infra.qdrant import Qdrant, QdrantArgs
from infra.redis import Redis, RedisArgs
from infra.secrets import Secrets, SecretsArgs
from infra.tls import Tls, TlsArgs

try:
    cfg = load()
except ConfigError as err:
    # One readable message, before any resource is registered.
    raise pulumi.RunError(str(err)) from None

secrets = Secrets("secrets", SecretsArgs(provided=cfg.secrets, generate=cfg.generate_secrets))

host_ready = []
if cfg.target.bootstrap:
    host = Host(
        "host",
        HostArgs(cfg, cfg.secrets.get("sshPrivateKey"), secrets.get("backupPassword")),
    )
    host_ready = [host.ready]

engine = docker.Provider(
    "docker",
    host=cfg.target.docker_host,
    ssh_opts=["-o", "BatchMode=yes", "-o", "ServerAliveInterval=30"]
    if cfg.target.is_remote
    else None,
    opts=pulumi.ResourceOptions(depends_on=host_ready),
)
on_engine = pulumi.ResourceOptions(providers={"docker": engine})

network = Network("network", NetworkArgs(stack=cfg.stack), on_engine)
volumes = network.volumes
acme_mode = cfg.edge.tls_mode == "acme"
tls = None if acme_mode else Tls("tls", TlsArgs(cfg.edge.tls_mode, cfg.edge.domain, cfg.secrets))

memory = cfg.sizes.memory_mb
redis = Redis(
    "redis",
    RedisArgs(
        cfg.stack,
        cfg.images.redis,
        memory["redis"],
        secrets.get("redisPassword"),
        network.internal,
        volumes["redis-data"],
        volumes["redis-secrets"],
    ),
    on_engine,
)
qdrant = Qdrant(
    "qdrant",
    QdrantArgs(
        cfg.stack,
        cfg.images.qdrant,
        memory["qdrant"],
        secrets.get("qdrantApiKey"),
        network.internal,
        volumes["qdrant-data"],
        volumes["qdrant-secrets"],
    ),
    on_engine,
)

app = App(
    "app",
    AppArgs(
        stack=cfg.stack,
        image=cfg.images.app,
        replicas=cfg.sizes.app_replicas,
        memory_mb=memory["app"],
        worker_memory_mb=memory["worker"],
        settings=AppSettings(
            allowed_hosts=cfg.edge.allowed_hosts,
            log_level=cfg.service.log_level,
            alert_threshold=cfg.monitoring.log_growth_percent,
            workers=cfg.sizes.app_workers,
            smtp_host=cfg.service.smtp_host,
            smtp_port=cfg.service.smtp_port,
            smtp_user=cfg.service.smtp_user,
            alert_email=cfg.monitoring.emails,
            search_requires_key=cfg.service.search_requires_key,
            diagnostic_jobs=cfg.service.diagnostic_jobs,
            write_rate_per_minute=cfg.service.write_rate_per_minute,
        ),
        secrets={
            key: secrets.values[key]
            for key, _file in SECRET_FILES.values()
            if key in secrets.values
        },
        api_key_hashes=pulumi.Output.secret(secrets.get("apiKeys").apply(apikeys.hash_file)),
        edge=network.edge,
        internal=network.internal,
        data=volumes["app-data"],
        static=volumes["static"],
        secrets_volume=volumes["app-secrets"],
        depends_on=[redis.container, qdrant.container],
    ),
    on_engine,
)
nginx = Nginx(
    "nginx",
    NginxArgs(
        config=cfg,
        memory_mb=memory["nginx"],
        certificate_pem=tls.certificate_pem if tls else None,
        private_key_pem=tls.private_key_pem if tls else None,
        edge=network.edge,
        static=volumes["static"],
        acme_webroot=volumes["acme-webroot"],
        config_volume=volumes["edge-config"],
        depends_on=app.replicas,
        logs=volumes["edge-logs"] if cfg.monitoring.enabled else None,
    ),
    on_engine,
)
monitoring = None
if cfg.monitoring.enabled:
    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(
            config=cfg,
            secrets=secrets.values,
            certificate_pem=tls.certificate_pem if tls else None,
            internal=network.internal,
            edge=network.edge,
            edge_logs=volumes["edge-logs"],
            depends_on=[nginx.container, redis.container, qdrant.container],
        ),
        on_engine,
    )

if acme_mode:
    # Config guarantees the bootstrapped host certbot runs on.
    Acme(
        "acme",
        AcmeArgs(
            domain=cfg.edge.domain,
            email=cfg.edge.acme_email,
            server=cfg.edge.acme_server,
            connection=host.connection,
            sudo=sudo_command,
            user=cfg.target.bootstrap_user,
            depends_on=[nginx.container],
        ),
    )

pulumi.export("url", cfg.edge.url)
if secrets.generated_api_key is not None:
    # dev only: `pulumi stack output devApiKey --show-secrets` for curl -H "Authorization: Bearer …"
    pulumi.export("devApiKey", secrets.generated_api_key)
pulumi.export("healthUrl", f"{cfg.edge.url}/healthz")
pulumi.export("readyUrl", f"{cfg.edge.url}/readyz")
pulumi.export("edgeRelease", nginx.release)
pulumi.export("host", cfg.target.host or "localhost")
pulumi.export("dockerHost", cfg.target.docker_host or "local engine")
pulumi.export(
    "images",
    {
        "app": app.image_name,
        "nginx": cfg.images.nginx,
        "redis": cfg.images.redis,
        "qdrant": cfg.images.qdrant,
    },
)
pulumi.export(
    "containers",
    {
        "nginx": nginx.container.name,
        "redis": redis.container.name,
        "qdrant": qdrant.container.name,
        "worker": app.worker.name,
        "app": [c.name for c in app.replicas],
    },
)
if monitoring is not None:
    pulumi.export("monitoring", {k: c.name for k, c in monitoring.containers.items()})
    if monitoring.grafana_password is not None:
        # `pulumi stack output grafanaAdminPassword --show-secrets`, user admin, over make tunnel
        pulumi.export("grafanaAdminPassword", monitoring.grafana_password)

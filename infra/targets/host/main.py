"""The single-host wiring (`ora:target host`, the default): containers on one Docker engine."""

from __future__ import annotations

import os

import pulumi
import pulumi_command as command

from infra import deploys
from infra.bootstrap.script import sudo_command
from infra.config import StackConfig
from infra.edge.acme import Acme, AcmeArgs
from infra.edge.tls import Tls, TlsArgs
from infra.monitoring import files as monitoring_files
from infra.monitoring import specs as monitoring_specs
from infra.secrets import Secrets
from infra.services import qdrant as services_qdrant
from infra.services import redis as services_redis
from infra.services.app import common_args
from infra.targets import outputs
from infra.targets.host import images
from infra.targets.host.app import App, AppArgs
from infra.targets.host.monitoring import Monitoring, MonitoringArgs
from infra.targets.host.network import Network, NetworkArgs
from infra.targets.host.nginx import Nginx, NginxArgs
from infra.targets.host.store import Platform, StoreArgs, StoreComponent


def wire(
    cfg: StackConfig,
    secrets: Secrets,
    on_engine: pulumi.ResourceOptions,
    last_deploy: deploys.LastDeploy,
    connection: command.remote.ConnectionArgs | None,
) -> None:
    network = Network(
        "network", NetworkArgs(stack=cfg.stack, monitoring=cfg.monitoring.enabled), on_engine
    )
    volumes = network.volumes
    acme_mode = cfg.edge.tls_mode == "acme"
    tls = (
        None if acme_mode else Tls("tls", TlsArgs(cfg.edge.tls_mode, cfg.edge.domain, cfg.secrets))
    )

    memory = cfg.sizes.memory_mb
    platform = Platform(cfg.stack, network.internal, volumes, network.monitoring)
    redis = StoreComponent(
        "ora:infra:Redis",
        "redis",
        StoreArgs(
            services_redis.store(memory["redis"]),
            cfg.images.redis,
            memory["redis"],
            secrets.get("redisPassword"),
            platform,
        ),
        on_engine,
    )
    qdrant = StoreComponent(
        "ora:infra:Qdrant",
        "qdrant",
        StoreArgs(
            services_qdrant.STORE,
            cfg.images.qdrant,
            memory["qdrant"],
            secrets.get("qdrantApiKey"),
            platform,
        ),
        on_engine,
    )

    # `make rollback` (infra/deploys.py): an earlier image, while appImage/app/ is unchanged.
    desired_app = cfg.images.app or images.built_tag(cfg.stack)
    app_image = deploys.choose_image(
        desired_app, cfg.images.app_rollback, cfg.images.app_rollback_from
    )
    if app_image.warning:
        pulumi.log.warn(app_image.warning)
    app = App(
        "app",
        AppArgs(
            **common_args(cfg, secrets),
            image=app_image.image if app_image.rollback else cfg.images.app,
            edge=network.edge,
            internal=network.internal,
            data=volumes["app-data"],
            static=volumes["static"],
            secrets_volume=volumes["app-secrets"],
            depends_on=[redis.container, qdrant.container],
            logs=volumes["app-logs"],
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
            state_volume=volumes["edge-state"],
            upstream_servers=app.upstream_servers,
            depends_on=app.replicas,
            logs=volumes["edge-logs"] if cfg.monitoring.enabled else None,
            monitoring=network.monitoring,
        ),
        on_engine,
    )
    monitoring = None
    if cfg.monitoring.enabled:
        monitoring = Monitoring(
            "monitoring",
            MonitoringArgs(
                config=cfg,
                files=monitoring_files.config_files(cfg, monitoring_specs.runtime(cfg)),
                secrets=secrets.values,
                certificate_pem=tls.certificate_pem if tls else None,
                internal=network.internal,
                monitoring=network.monitoring,
                alerting=network.alerting,
                redis_exporter_password=redis.exporter_password,
                edge_logs=volumes["edge-logs"],
                app_logs=volumes["app-logs"],
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
                connection=connection,
                sudo=sudo_command,
                user=cfg.access.bootstrap_user,
                depends_on=[nginx.container],
            ),
        )

    outputs.export_common(cfg, secrets, nginx.release, app.image_name)
    pulumi.export("host", cfg.access.host or "localhost")
    pulumi.export(
        deploys.OUTPUT,
        last_deploy.history(app.image_name, app_image.rollback, deploys.deployer(os.environ)),
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
            # `pulumi stack output grafanaAdminPassword --show-secrets`, user admin, over
            # make tunnel
            pulumi.export("grafanaAdminPassword", monitoring.grafana_password)

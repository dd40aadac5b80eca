"""Wiring of the swarm target (ora:target swarm): the same stack as Docker Swarm services.

Called by infra/__main__.py after the config, the secrets and the Docker provider (the
swarm's manager) exist; builds the components and exports the outputs.
"""

from __future__ import annotations

import os

import pulumi

from infra import deploys
from infra.bootstrap import swarm_changes
from infra.bootstrap.swarm import SwarmBootstrap, SwarmBootstrapArgs
from infra.config import StackConfig
from infra.edge.tls import Tls, TlsArgs
from infra.monitoring import files as monitoring_files
from infra.secrets import Secrets
from infra.services import qdrant as services_qdrant
from infra.services import redis as services_redis
from infra.services.app import common_args
from infra.targets import outputs
from infra.targets.swarm import monitoring as swarm_monitoring
from infra.targets.swarm.app import SwarmApp, SwarmAppArgs
from infra.targets.swarm.monitoring import SwarmMonitoring, SwarmMonitoringArgs
from infra.targets.swarm.network import SwarmNetwork, SwarmNetworkArgs
from infra.targets.swarm.nginx import SwarmNginx, SwarmNginxArgs
from infra.targets.swarm.store import SwarmStore, SwarmStoreArgs

NODE_IDS = "swarmNodeIds"  # host -> swarm node ID, as formed


def bootstrap(cfg: StackConfig, last_deploy: deploys.LastDeploy) -> list[pulumi.Resource]:
    """Forms the swarm over SSH when ora:swarmNodes lists its nodes; what the Docker
    provider (and so every service) waits for. Empty: the swarm was formed by hand."""
    if not cfg.swarm.nodes:
        return []
    formed = SwarmBootstrap(
        "swarm",
        SwarmBootstrapArgs(
            nodes=cfg.swarm.nodes,
            ssh_user=cfg.access.ssh_user,
            ssh_port=cfg.access.ssh_port,
            private_key=cfg.secrets.get("sshPrivateKey"),
            address_pool=cfg.swarm.address_pool,
            data_node_moved=cfg.swarm.data_node_moved,
            # What the last deploy formed, read back from this stack's own outputs.
            previous=last_deploy.outputs(swarm_changes.OUTPUT, NODE_IDS),
        ),
    )
    pulumi.export(NODE_IDS, formed.node_ids)
    pulumi.export(swarm_changes.OUTPUT, swarm_changes.formed(cfg.swarm.nodes))
    return list(formed.ready)


def wire(
    cfg: StackConfig,
    secrets: Secrets,
    on_engine: pulumi.ResourceOptions,
    last_deploy: deploys.LastDeploy,
) -> None:
    network = SwarmNetwork(
        "swarm-network",
        SwarmNetworkArgs(cfg.stack, cfg.swarm.encrypted_network, cfg.monitoring.enabled),
        on_engine,
    )
    tls = Tls("tls", TlsArgs(cfg.edge.tls_mode, cfg.edge.domain, cfg.secrets))
    memory = cfg.sizes.memory_mb
    redis = SwarmStore(
        "ora:infra:SwarmRedis",
        "redis",
        SwarmStoreArgs(
            services_redis.store(memory["redis"]),
            cfg.stack,
            cfg.images.redis,
            memory["redis"],
            secrets.get("redisPassword"),
            "password",
            network.internal,
            monitoring=network.monitoring,
        ),
        on_engine,
    )
    qdrant = SwarmStore(
        "ora:infra:SwarmQdrant",
        "qdrant",
        SwarmStoreArgs(
            services_qdrant.STORE,
            cfg.stack,
            cfg.images.qdrant,
            memory["qdrant"],
            secrets.get("qdrantApiKey"),
            "api-key",
            network.internal,
        ),
        on_engine,
    )
    # `make rollback` (infra/deploys.py): an earlier image, while ora:appImage is unchanged.
    app_image = deploys.choose_image(
        cfg.images.app or "", cfg.images.app_rollback, cfg.images.app_rollback_from
    )
    if app_image.warning:
        pulumi.log.warn(app_image.warning)
    app = SwarmApp(
        "app",
        SwarmAppArgs(
            **common_args(cfg, secrets),
            image=app_image.image,
            max_replicas_per_node=cfg.swarm.max_replicas_per_node,
            edge=network.edge,
            internal=network.internal,
            depends_on=[redis.service, qdrant.service],
        ),
        on_engine,
    )
    nginx = SwarmNginx(
        "nginx",
        SwarmNginxArgs(
            config=cfg,
            memory_mb=memory["nginx"],
            certificate_pem=tls.certificate_pem,
            private_key_pem=tls.private_key_pem,
            edge=network.edge,
            depends_on=[app.web],
            monitoring=network.monitoring,
        ),
        on_engine,
    )
    monitored = {}
    if cfg.monitoring.enabled:
        monitoring = SwarmMonitoring(
            "monitoring",
            SwarmMonitoringArgs(
                config=cfg,
                files=monitoring_files.config_files(cfg, swarm_monitoring.runtime(cfg)),
                secrets=secrets.values,
                redis_exporter_password=redis.exporter_password,
                certificate_pem=tls.certificate_pem,
                networks={
                    "monitoring": network.monitoring,
                    "internal": network.internal,
                    "alerting": network.alerting,
                },
                depends_on=[nginx.service, redis.service, qdrant.service],
            ),
            on_engine,
        )
        monitored = {k: s.name for k, s in monitoring.services.items()}
        if monitoring.grafana_password is not None:
            pulumi.export("grafanaAdminPassword", monitoring.grafana_password)
    outputs.export_common(cfg, secrets, nginx.release, app_image.image)
    pulumi.export("target", "swarm")
    pulumi.export(
        deploys.OUTPUT,
        last_deploy.history(app_image.image, app_image.rollback, deploys.deployer(os.environ)),
    )
    pulumi.export(
        "services",
        {
            "nginx": nginx.service.name,
            "redis": redis.service.name,
            "qdrant": qdrant.service.name,
            "worker": app.worker.name,
            "app": app.web.name,
        },
    )
    if monitored:
        pulumi.export("monitoring", monitored)

"""Monitoring: Prometheus, Alertmanager, the exporters and Grafana, on `monitoring`.

Nothing publishes a port. Prometheus, Alertmanager and Grafana are reached over an SSH
tunnel (`make tunnel`): no new public surface, no login page on the internet, and the
edge's nginx config stays as it is. No monitoring port is on a network the app is on:
Prometheus scrapes on `internal` without listening there, and Alertmanager alone has a
route out, `alerting` (infra/monitoring/specs.py: NETWORKS).

The rendered files reach the containers through a one-shot installer (infra/targets/host/oneshot.py)
into the monitoring-config volume; each service's secrets through its own writer
(infra/targets/host/secret_files.py). A change of either replaces the services that read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from infra import topology
from infra.config import StackConfig
from infra.monitoring import dashboard, render, specs
from infra.monitoring.runtime import QDRANT_KEY_FILE, SMTP_CA_FILE, SMTP_PASSWORD_FILE
from infra.services import baseline
from infra.targets.host import containers, images, oneshot, secret_files


@dataclass(frozen=True)
class MonitoringArgs:
    config: StackConfig
    secrets: Mapping[str, pulumi.Output]  # qdrantApiKey, smtpPassword, ...
    certificate_pem: pulumi.Output | None  # self-signed: the CA the probe trusts
    internal: docker.Network
    monitoring: docker.Network
    alerting: docker.Network
    redis_exporter_password: pulumi.Output  # Redis's INFO-only user (infra/services/redis_acl.py)
    edge_logs: docker.Volume  # nginx's JSON access log (infra/targets/host/nginx.py)
    depends_on: list[pulumi.Resource]
    app_logs: docker.Volume | None = (
        None  # app.log, worker.log, scheduler.log (infra/targets/host/app.py)
    )


def config_files(config: StackConfig) -> dict[str, str]:
    """Every file of specs.CURRENT (relative path -> text), except the probe's CA (an Output)."""
    rt = specs.runtime(config)
    files = {f"prometheus/{k}": v for k, v in render.render_prometheus(config, rt).items()}
    files |= {f"alertmanager/{k}": v for k, v in render.render_alertmanager(config, rt).items()}
    files |= {f"blackbox/{k}": v for k, v in render.render_blackbox(config, rt).items()}
    files |= {f"mtail/{k}": v for k, v in render.render_mtail(config, rt).items()}
    if config.monitoring.smtp_ca_certificate:
        files[f"alertmanager/{SMTP_CA_FILE}"] = config.monitoring.smtp_ca_certificate
    if config.monitoring.grafana:
        files |= dashboard.grafana_files(config)
    return files


class Monitoring(pulumi.ComponentResource):
    containers: dict[str, docker.Container]
    installer: docker.Container
    grafana_password: pulumi.Output | None  # only when generated (dev), for the export

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Monitoring", name, None, opts)
        cfg = args.config
        self._name, self._stack = name, cfg.stack
        services = specs.services(cfg)
        pulled = {
            image: images.pinned(f"{name}-{image}-image", ref, self)
            for image, ref in specs.IMAGES.items()
            if image in {s.name for s in services} | {specs.INSTALLER_IMAGE}
        }
        tool = pulled[specs.INSTALLER_IMAGE].image_id
        config_volume = self._volume("monitoring-config")
        self.installer = oneshot.container(
            f"{name}-config",
            oneshot.OneShot(
                stack=cfg.stack,
                service="monitoring-config",
                image_id=tool,
                script=specs.install_script(),
                uploads=self._config_uploads(cfg, args.certificate_pem),
                volumes=[
                    docker.ContainerVolumeArgs(
                        volume_name=config_volume.name, container_path=specs.CONFIG_ROOT
                    )
                ],
            ),
            self,
        )
        config_revision = oneshot.revision(self.installer)
        files = self._secret_files(cfg, args.secrets, args.redis_exporter_password)
        self.containers = {}
        for service in services:
            revision = config_revision
            volumes = [
                docker.ContainerVolumeArgs(
                    volume_name=config_volume.name,
                    container_path=specs.CONFIG_ROOT,
                    read_only=True,
                )
            ]
            if service.secrets:
                volume = self._volume(f"{service.name}-secrets")
                writer = secret_files.writer(
                    f"{name}-{service.name}-secrets",
                    secret_files.SecretFilesArgs(
                        stack=cfg.stack,
                        service=service.name,
                        image_id=tool,
                        owner=f"{service.uid}:{service.uid}",
                        volume=volume,
                        files={file: files[file] for file in service.secrets},
                    ),
                    self,
                )
                revision = pulumi.Output.concat(revision, "-", secret_files.revision(writer))
                volumes.append(secret_files.mount(volume))
            if service.data_path:
                data = self._volume(f"{service.name}-data")
                volumes.append(
                    docker.ContainerVolumeArgs(
                        volume_name=data.name, container_path=service.data_path
                    )
                )
            if service.mounts_logs:
                logs = [(args.edge_logs, specs.nginx.LOGS_DIR), (args.app_logs, specs.APP_LOGS_DIR)]
                volumes += [
                    docker.ContainerVolumeArgs(volume_name=v.name, container_path=p, read_only=True)
                    for v, p in logs
                    if v is not None
                ]
            if service.mounts_docker_root:
                # Any volume lives on Docker's data root: node-exporter sees its filesystem.
                volumes.append(
                    docker.ContainerVolumeArgs(
                        volume_name=config_volume.name,
                        container_path="/var/lib/docker",
                        read_only=True,
                    )
                )
            if service.textfile_dir:
                volumes.append(
                    docker.ContainerVolumeArgs(
                        host_path=service.textfile_dir,
                        container_path=specs.TEXTFILE_MOUNT,
                        read_only=True,
                    )
                )
            self.containers[service.name] = self._container(
                service, pulled[service.name].image_id, volumes, revision, args
            )
        self.register_outputs(
            {
                "containers": {k: c.name for k, c in self.containers.items()},
                "images": {s.name: s.image for s in services},
            }
        )

    def _volume(self, suffix: str) -> docker.Volume:
        """Monitoring's own volumes: expendable, so `ora:monitoring false` removes them."""
        return docker.Volume(
            f"{self._name}-{suffix}",
            name=topology.name(self._stack, suffix),
            labels=[docker.VolumeLabelArgs(label=topology.STACK_LABEL, value=self._stack)],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _config_uploads(self, cfg: StackConfig, certificate_pem) -> list:
        uploads = [
            containers.upload(f"{specs.STAGING}/{path}", text)
            for path, text in sorted(config_files(cfg).items())
        ]
        if cfg.edge.tls_mode == "self-signed" and certificate_pem is not None:
            uploads.append(containers.upload(f"{specs.STAGING}/blackbox/ca.pem", certificate_pem))
        return uploads

    def _secret_files(
        self, cfg: StackConfig, secrets: Mapping[str, pulumi.Output], redis_exporter_password
    ) -> dict:
        empty = pulumi.Output.secret("")
        redis = pulumi.Output.from_input(redis_exporter_password).apply(specs.redis_passwords)
        files = {
            QDRANT_KEY_FILE: secrets.get("qdrantApiKey", empty),
            specs.REDIS_PASSWORDS_FILE: pulumi.Output.secret(redis),
        }
        if "smtpPassword" in secrets:
            # Alertmanager reads the password file verbatim: no trailing newline.
            smtp = secrets["smtpPassword"].apply(lambda v: (v or "").rstrip("\r\n"))
            files[SMTP_PASSWORD_FILE] = pulumi.Output.secret(smtp)
        self.grafana_password = None
        if cfg.monitoring.grafana:
            password = secrets.get("grafanaAdminPassword")
            if password is None:  # config allows this only with generateSecrets (dev)
                generated = random.RandomPassword(
                    f"{self._name}-grafana-admin-password",
                    length=32,
                    special=False,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                password = generated.result
                self.grafana_password = pulumi.Output.secret(password)
            password = pulumi.Output.secret(password)
            files[specs.GRAFANA_PASSWORD_FILE] = password
        return files

    def _container(self, service, image_id, volumes, revision, args) -> docker.Container:
        spec = baseline.Baseline(
            service=service.name,
            stack=self._stack,
            memory_mb=service.memory_mb,
            healthcheck=service.healthcheck,
            secrets_revision=revision,
        )
        joined = {
            "monitoring": args.monitoring,
            "internal": args.internal,
            "alerting": args.alerting,
        }
        # Its alias on `monitoring` only: nobody on `internal` resolves it.
        networks = [
            docker.ContainerNetworksAdvancedArgs(
                name=joined[network].name,
                aliases=[service.name] if network == "monitoring" else None,
            )
            for network in service.networks
        ]
        return docker.Container(
            f"{self._name}-{service.name}",
            name=topology.name(self._stack, service.name),
            image=image_id,
            command=list(service.command) or None,
            user=f"{service.uid}:{service.uid}",
            envs=list(service.envs) or None,
            networks_advanced=networks,
            volumes=volumes,
            **containers.container_args(spec),
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, depends_on=args.depends_on
            ),
        )

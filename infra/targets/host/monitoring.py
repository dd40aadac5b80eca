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

from infra import topology
from infra.config import StackConfig
from infra.monitoring import specs
from infra.monitoring.runtime import BLACKBOX_CA
from infra.services import baseline
from infra.targets import monitoring_secrets
from infra.targets.host import containers, images, oneshot, secret_files


@dataclass(frozen=True)
class MonitoringArgs:
    config: StackConfig
    # Path under CURRENT -> text: infra/monitoring/files.py, for specs.runtime(config)
    files: Mapping[str, str]
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
                uploads=self._config_uploads(cfg, args.files, args.certificate_pem),
                volumes=[
                    docker.ContainerVolumeArgs(
                        volume_name=config_volume.name, container_path=specs.CONFIG_ROOT
                    )
                ],
            ),
            self,
        )
        config_revision = oneshot.revision(self.installer)
        found = monitoring_secrets.secret_files(
            name, cfg, args.secrets, args.redis_exporter_password, self
        )
        files, self.grafana_password = found.files, found.grafana_password
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

    def _config_uploads(self, cfg: StackConfig, files: Mapping[str, str], certificate_pem) -> list:
        uploads = [
            containers.upload(f"{specs.STAGING}/{path}", text)
            for path, text in sorted(files.items())
        ]
        if cfg.edge.tls_mode == "self-signed" and certificate_pem is not None:
            uploads.append(containers.upload(f"{specs.STAGING}/{BLACKBOX_CA}", certificate_pem))
        return uploads

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

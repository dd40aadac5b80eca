"""Every file monitoring's containers read, as text keyed by its path under CURRENT: the
rendered Prometheus, Alertmanager, blackbox and mtail files, the SMTP relay's CA and
Grafana's provisioning. Both targets ship the same files: the host target through its
installer into the monitoring-config volume, the swarm target as Swarm configs mounted
at the same paths. The probe's self-signed CA is an Output, added by each target."""

from __future__ import annotations

from infra.config import StackConfig
from infra.monitoring import dashboard, render
from infra.monitoring.runtime import SMTP_CA_FILE, MonitoringRuntime


def config_files(config: StackConfig, runtime: MonitoringRuntime) -> dict[str, str]:
    """Relative path -> text, for every file but the probe's CA."""
    files = {f"prometheus/{k}": v for k, v in render.render_prometheus(config, runtime).items()}
    files |= {
        f"alertmanager/{k}": v for k, v in render.render_alertmanager(config, runtime).items()
    }
    files |= {f"blackbox/{k}": v for k, v in render.render_blackbox(config, runtime).items()}
    files |= {f"mtail/{k}": v for k, v in render.render_mtail(config, runtime).items()}
    if config.monitoring.smtp_ca_certificate:
        files[f"alertmanager/{SMTP_CA_FILE}"] = config.monitoring.smtp_ca_certificate
    if config.monitoring.grafana:
        files |= dashboard.grafana_files(config)
    return files

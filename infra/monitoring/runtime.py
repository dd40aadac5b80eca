"""The monitoring containers' shared contract: where their files are, which addresses they
reach, and every duration of the rules and of Alertmanager.

The specs (what each container is), the renderers (what its files say) and the dashboard
read it; it reads only infra/topology.py. Tests override `MonitoringRuntime` (local ports,
1 s intervals) and render through the same functions.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from infra import topology

CONFIG_ROOT = "/etc/ora-monitoring"  # the monitoring-config volume, in every container
CURRENT = f"{CONFIG_ROOT}/current"  # the installed files; the installer swaps it whole
STAGING = "/staging"  # where the installer receives the new files
# The stack's secret file names (infra/targets/host/secret_files.py), each file mode 0400.
QDRANT_KEY_FILE = "qdrant-api-key"
SMTP_PASSWORD_FILE = "smtp-password"  # noqa: S105 - a file name
SMTP_CA_FILE = "smtp-ca.pem"  # in alertmanager_dir, when ora:smtpCaCertificate is set
# {"redis://HOST:PORT": "..."} (the exporter's format): redis_acl.EXPORTER_USER's password
REDIS_PASSWORDS_FILE = "redis-passwords"
GRAFANA_PASSWORD_FILE = "grafana-admin-password"  # noqa: S105 - a file name
BLACKBOX_CA = "blackbox/ca.pem"  # under CURRENT, tlsMode self-signed: the CA the probe trusts


@dataclass(frozen=True)
class Timing:
    """Every duration of the rules and of Alertmanager; the chain test shortens them."""

    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"
    window: str = "10m"  # the operators' monitoring interval
    baseline: str = "1h"  # log growth compares the window with this span before it
    baseline_windows: int = 6  # baseline / window
    fire_for: str = "2m"
    down_for: str = "2m"
    slow_for: str = "10m"
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"


# ora:monitoringTiming: the operators' durations, or short ones for the e2e's real stack.
TIMINGS = {
    "standard": Timing(),
    "test": Timing(
        scrape_interval="1s",
        evaluation_interval="1s",
        window="15s",
        baseline="90s",
        fire_for="2s",
        down_for="2s",
        slow_for="2s",
        group_wait="2s",
        group_interval="5s",
        repeat_interval="1h",
    ),
}


@dataclass(frozen=True)
class MonitoringRuntime:
    """Topology of the monitoring containers (Docker network aliases, mounted files)."""

    config_dir: str = "/etc/prometheus"
    alertmanager_dir: str = "/etc/alertmanager"
    secrets_dir: str = "/run/secrets"  # holds the secret files named above
    access_log: str = "/var/log/ora-edge/access.log"  # nginx's JSON log, read by mtail
    # The deployed containers' aliases on the internal network (infra/targets/host/monitoring.py).
    targets: dict[str, str] = field(
        default_factory=lambda: {
            "prometheus": "localhost:9090",
            "alertmanager": "alertmanager:9093",
            "node": "node-exporter:9100",  # + textfile dir for ora_backup_* metrics
            "redis": "redis-exporter:9121",
            "qdrant": str(topology.QDRANT),
            "mtail": "mtail:3903",
            "worker": str(topology.WORKER_METRICS),  # the worker's job metrics
            "blackbox": "blackbox-exporter:9115",
        }
    )
    app_dns: tuple[str, int] | None = (topology.APP.host, topology.APP.port)  # None: in targets
    # Jobs whose target name resolves to several tasks (a global Swarm service in dnsrr
    # mode): Prometheus asks DNS and scrapes each address.
    discovered: tuple[str, ...] = ()
    smtp_ca_file: str = ""  # "": the system's CAs verify the relay
    blackbox_ca_file: str = ""  # "": the system's CAs verify the public URL (self-signed: its CA)
    # What blackbox probes: "" = the public URL itself; else a URL of the edge container,
    # probed with the public host name as TLS server name and Host header.
    probe_url: str = ""
    disk_mounts: tuple[str, ...] = ("/", "/opt/ora", "/var/lib/docker")
    timing: Timing = field(default_factory=Timing)


DEFAULT_RUNTIME = MonitoringRuntime()


def with_timing(timing: str, **overrides: Any) -> MonitoringRuntime:
    """The default topology with ora:monitoringTiming's durations (a TIMINGS key)."""
    return dataclasses.replace(DEFAULT_RUNTIME, timing=TIMINGS[timing], **overrides)


def redis_passwords(password: str) -> str:
    """The exporter's REDIS_PASSWORDS_FILE, for its user's `password`."""
    return json.dumps({f"redis://{topology.REDIS}": password})

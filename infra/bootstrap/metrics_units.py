"""The per-container metrics writer on the host: its script and systemd service.

Pure builders of file text, installed by the bootstrap (infra/bootstrap/script.py). The service
runs infra/hosttools/container_metrics.py as /usr/local/sbin/ora-container-metrics, which
writes ora_containers.prom into node-exporter's textfile directory (ora:backupTextfileDir,
mounted read-only into the node-exporter container) every INTERVAL_SECONDS.
A loop in one long-running service rather than a 15-second timer: the journal does not get
two lines per run, and python starts once.
"""

from __future__ import annotations

from infra import topology
from infra.config import StackConfig

COMMAND = "/usr/local/sbin/ora-container-metrics"
SCRIPT = topology.REPO_ROOT / "infra" / "hosttools" / "container_metrics.py"
SYSTEMD_DIR = "/etc/systemd/system"
SERVICE = "ora-container-metrics.service"
INTERVAL_SECONDS = topology.CONTAINER_METRICS_INTERVAL_SECONDS


def unit(stack: str, textfile_dir: str) -> str:
    return f"""[Unit]
Description=Ora ({stack}): per-container restarts, memory and CPU for node-exporter
Wants=docker.service
After=docker.service

[Service]
ExecStart={COMMAND} --dir {textfile_dir} --every {INTERVAL_SECONDS}
Restart=always
RestartSec=15
Nice=10
NoNewPrivileges=yes
MemoryMax=64M

[Install]
WantedBy=multi-user.target
"""


def files(config: StackConfig) -> dict[str, str]:
    """Every unit file the bootstrap writes for the writer, by absolute path (the script
    itself is written from SCRIPT, mode 0750)."""
    return {f"{SYSTEMD_DIR}/{SERVICE}": unit(config.stack, config.backup_textfile_dir)}


def start_steps(config: StackConfig) -> str:
    """After daemon-reload: the textfile directory, and the service (re)started so that a
    changed script takes effect."""
    return (
        f"install -d -m 0755 {config.backup_textfile_dir}\n"
        f"systemctl enable {SERVICE}\nsystemctl restart {SERVICE}\n"
    )

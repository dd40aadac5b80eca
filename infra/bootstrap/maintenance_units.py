"""Scheduled maintenance on the host: security upgrades and the weekly cleanup.

Pure builders of file text, installed by the bootstrap (infra/bootstrap/script.py):
- Debian's unattended-upgrades, limited to the security archive, run by apt's own
  apt-daily.timer (lists) and apt-daily-upgrade.timer (install);
- ora-cleanup.timer, weekly: infra/hosttools/cleanup.py as /usr/local/sbin/ora-cleanup.
The monthly `restic check --read-data-subset` is ora-backup-check.timer
(infra/bootstrap/backup_units.py).
"""

from __future__ import annotations

from infra import topology

SYSTEMD_DIR = "/etc/systemd/system"
APT_DIR = "/etc/apt/apt.conf.d"
CLEANUP_COMMAND = "/usr/local/sbin/ora-cleanup"
CLEANUP_SCRIPT = topology.REPO_ROOT / "infra" / "hosttools" / "cleanup.py"
# Debian's archives that carry security fixes (bookworm's is bookworm-security); its
# default 50unattended-upgrades also takes point releases ("label=Debian"), cleared here.
SECURITY_ORIGINS = (
    "origin=Debian,codename=${distro_codename},label=Debian-Security",
    "origin=Debian,codename=${distro_codename}-security,label=Debian-Security",
)
APT_TIMERS = ("apt-daily.timer", "apt-daily-upgrade.timer")
TIMERS = ("ora-cleanup.timer",)


def auto_upgrades() -> str:
    """What Debian's own debconf answer writes: apt.systemd.daily refreshes the lists and
    runs unattended-upgrade once a day (the timers choose when)."""
    return 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n'


def security_only() -> str:
    """Read after Debian's 50unattended-upgrades (apt reads parts in name order)."""
    origins = "".join(f'  "{origin}";\n' for origin in SECURITY_ORIGINS)
    return (
        "// Written by ora-infra's bootstrap (infra/bootstrap/maintenance_units.py): "
        "security only.\n"
        "#clear Unattended-Upgrade::Origins-Pattern;\n"
        f"Unattended-Upgrade::Origins-Pattern {{\n{origins}}};\n"
        'Unattended-Upgrade::Automatic-Reboot "false";\n'
        'Unattended-Upgrade::Remove-Unused-Dependencies "true";\n'
    )


def cleanup_units() -> dict[str, str]:
    service = f"""[Unit]
Description=Weekly cleanup of Ora's host: old images (rollback ones kept), build cache, logs
Wants=docker.service
After=docker.service

[Service]
Type=oneshot
ExecStart={CLEANUP_COMMAND}
Nice=10
IOSchedulingClass=idle
"""
    timer = """[Unit]
Description=Weekly cleanup of Ora's host

[Timer]
OnCalendar=Sun *-*-* 05:30:00
RandomizedDelaySec=30m
Persistent=true

[Install]
WantedBy=timers.target
"""
    return {"ora-cleanup.service": service, "ora-cleanup.timer": timer}


def files() -> dict[str, str]:
    """Every file the bootstrap writes for the scheduled maintenance, by absolute path."""
    written = {
        f"{APT_DIR}/20auto-upgrades": auto_upgrades(),
        f"{APT_DIR}/52ora-unattended-upgrades": security_only(),
    }
    for name, text in cleanup_units().items():
        written[f"{SYSTEMD_DIR}/{name}"] = text
    return written

"""The backup on the host: its program, settings file, systemd units and password rotation.

Pure builders of text, installed by the bootstrap (infra/bootstrap/script.py). The program is
the package infra/hosttools/backup, run by its shim scripts/backup.sh (installed as COMMAND).
The settings file is read by the program itself, so an operator's manual `ora-backup list`
sees the same stack, repositories and metric directory as the timer.
"""

from __future__ import annotations

import shlex

from infra import topology
from infra.config import StackConfig

COMMAND = "/usr/local/sbin/ora-backup"
SETTINGS_FILE = "/opt/ora/backup.conf"
# Credentials of the off-host backend (e.g. AWS_ACCESS_KEY_ID=…), root-only (0600).
CREDENTIALS_FILE = "/opt/ora/backup.env"
PASSWORD_FILE = "/opt/ora/.restic-password"  # noqa: S105 - a path, not a password
# The off-host SFTP repository's login: a Pulumi secret (ora:backupOffsiteSshKey) that the
# Host component writes here from stdin (root, 0600), and the server's pinned host keys.
OFFSITE_SSH_KEY_FILE = "/opt/ora/.backup-offsite-ssh-key"
OFFSITE_KNOWN_HOSTS_FILE = "/opt/ora/backup-offsite-known-hosts"
SYSTEMD_DIR = "/etc/systemd/system"
CHECK_SUBSET = "10%"  # of the pack files, read back by the monthly check
# The program's package on the host: a directory on the shim's PYTHONPATH (scripts/backup.sh
# names the same directory; tests/unit/hosttools/test_backup_names.py holds them equal).
PACKAGE_ROOT = "/usr/local/lib/ora/hosttools"
PACKAGE_DIR = f"{PACKAGE_ROOT}/backup"
PACKAGE_SOURCE = topology.REPO_ROOT / "infra" / "hosttools" / "backup"


def settings(config: StackConfig) -> str:
    """KEY=value lines, sourced by backup.sh; no secret is ever in here."""
    values = {
        "ORA_STACK": config.stack,
        "RESTIC_PASSWORD_FILE": PASSWORD_FILE,
        "ORA_BACKUP_TEXTFILE_DIR": config.backup_textfile_dir,
        "ORA_BACKUP_OFFSITE_REPOSITORY": config.backup_offsite_repository,
    }
    if config.backup_offsite_repository.startswith("sftp:"):
        values["ORA_BACKUP_OFFSITE_SSH_KEY"] = OFFSITE_SSH_KEY_FILE
        values["ORA_BACKUP_OFFSITE_KNOWN_HOSTS"] = OFFSITE_KNOWN_HOSTS_FILE
    return "".join(f"{key}={value}\n" for key, value in values.items() if value)


def units(stack: str, schedule: str) -> dict[str, str]:
    """Daily backup (create, prune, check) and a monthly check that reads data back."""
    failed = f"ora-backup-failed@{stack}.service"
    service = f"""[Unit]
Description=Back up Ora ({stack}): Redis, Qdrant and app data into restic
Wants=docker.service
After=docker.service
OnFailure={failed}

[Service]
Type=oneshot
ExecStart={COMMAND} create
ExecStartPost={COMMAND} prune
ExecStartPost={COMMAND} check
Nice=10
IOSchedulingClass=idle
"""
    timer = f"""[Unit]
Description=Daily backup of Ora ({stack})

[Timer]
OnCalendar={schedule}
RandomizedDelaySec=15m
Persistent=true

[Install]
WantedBy=timers.target
"""
    check = f"""[Unit]
Description=Read back {CHECK_SUBSET} of Ora's ({stack}) backup repository (restic check)
OnFailure={failed}

[Service]
Type=oneshot
ExecStart={COMMAND} check --read-data-subset={CHECK_SUBSET}
Nice=10
IOSchedulingClass=idle
"""
    check_timer = f"""[Unit]
Description=Monthly read-back check of Ora's ({stack}) backups

[Timer]
OnCalendar=monthly
RandomizedDelaySec=6h
Persistent=true

[Install]
WantedBy=timers.target
"""
    # The metric (ora_backup_last_status, the success timestamp) alerts; this logs it too.
    on_failure = (
        "[Unit]\nDescription=Report a failed Ora backup job (%i)\n\n"
        "[Service]\nType=oneshot\n"
        "ExecStart=/usr/bin/logger -p daemon.err -t ora-backup "
        '"the Ora backup job of stack %i failed: journalctl -u ora-backup -u ora-backup-check"\n'
    )
    return {
        "ora-backup.service": service,
        "ora-backup.timer": timer,
        "ora-backup-check.service": check,
        "ora-backup-check.timer": check_timer,
        "ora-backup-failed@.service": on_failure,
    }


def package_files() -> dict[str, str]:
    """The program's modules as installed on the host, by absolute path, in name order."""
    return {
        f"{PACKAGE_DIR}/{module.name}": module.read_text()
        for module in sorted(PACKAGE_SOURCE.glob("*.py"))
    }


def mode(path: str) -> str:
    """The file mode of `path` among `files`: the settings (they name the off-host
    repository) are root's alone, like the credentials beside them."""
    return "0600" if path == SETTINGS_FILE else "0644"


def files(config: StackConfig) -> dict[str, str]:
    """Every file the bootstrap writes for the backup, by absolute path."""
    written = {SETTINGS_FILE: settings(config)}
    if config.backup_offsite_known_hosts:
        written[OFFSITE_KNOWN_HOSTS_FILE] = config.backup_offsite_known_hosts.strip() + "\n"
    for name, text in units(config.stack, config.backup_schedule).items():
        written[f"{SYSTEMD_DIR}/{name}"] = text
    return written


TIMERS = ("ora-backup.timer", "ora-backup-check.timer")


def password_file_command() -> str:
    """The restic password arrives on stdin; backup.sh rotates the repositories' key
    (restic key add, then key remove) before it replaces the file."""
    return f"{COMMAND} set-password"


def secret_file_command(path: str) -> str:
    """Writes stdin to `path` (root, 0600) under a temporary name, then renames it: the
    secret is never an argument, and a reader never sees half a file."""
    return f"umask 077 && cat >{path}.new && chmod 0600 {path}.new && mv -f {path}.new {path}"


def s3_credentials(access_key_id: str, secret_access_key: str) -> str:
    """backup.env for an s3: repository: sourced by backup.sh (set -a), so every value is
    shell-quoted; restic reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from its
    environment."""
    values = {"AWS_ACCESS_KEY_ID": access_key_id, "AWS_SECRET_ACCESS_KEY": secret_access_key}
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


def with_newline(text: str) -> str:
    """OpenSSH refuses a private key file without its final newline."""
    return text if text.endswith("\n") else text + "\n"

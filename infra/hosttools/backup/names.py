"""The names and host paths the backup shares with the rest of Ora, defined once here.

The package is installed alone on the host and imports only the standard library, so it
cannot read infra/topology.py or infra/bootstrap/: these are copies, held equal to infra's by
tests/unit/hosttools/test_backup_names.py.
"""

from __future__ import annotations

PROJECT = "ora"
STACK_LABEL = "org.ora.stack"
SERVICE_LABEL = "org.ora.service"
HELPER_LABEL = "org.ora.backup-helper"  # the short-lived containers that copy volumes

# Where the stack's containers find their secrets (files, never their environment).
SECRETS_DIR = "/run/secrets"
REDIS_SECRET = f"{SECRETS_DIR}/redis-password"
QDRANT_SECRET = f"{SECRETS_DIR}/qdrant-api-key"
QDRANT_PORT = 6333  # inside the qdrant container

# The volumes a backup copies (Qdrant goes through its snapshot API), and the one that
# format-1 backups copied as well.
VOLUMES = ("redis-data", "app-data")
QDRANT_VOLUME = "qdrant-data"
# Services whose image a manifest records.
IMAGED_SERVICES = ("redis", "qdrant", "app", "worker", "nginx")

# The host's files: written by the bootstrap (infra/bootstrap/backup_units.py), read here.
COMMAND = "/usr/local/sbin/ora-backup"
SETTINGS_FILE = "/opt/ora/backup.conf"
CREDENTIALS_FILE = "/opt/ora/backup.env"
PASSWORD_FILE = "/opt/ora/.restic-password"  # noqa: S105 - a path, not a password
OFFSITE_SSH_KEY_FILE = "/opt/ora/.backup-offsite-ssh-key"
OFFSITE_KNOWN_HOSTS_FILE = "/opt/ora/backup-offsite-known-hosts"
# Defaults of the settings (ORA_BACKUP_*, RESTIC_*).
REPOSITORY = "/opt/ora/backups/restic"
STAGING_DIR = "/opt/ora/backups/staging"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
METRIC_FILE = "ora_backup.prom"
HEALTH_TIMEOUT = "120"

RETENTION = "30d"
NAME_PATTERN = "^[A-Za-z0-9._-]+$"  # backup names and ORA_STACK, as messages show it


def name(stack: str, *parts: str) -> str:
    """The Docker name of one of the stack's objects: `name("dev", "redis-data")`."""
    return "-".join((PROJECT, stack, *parts))

"""A data store as data, for either target: one container (or task) whose data lives on a
named volume, whose credential is a secret file, and which only the internal network
reaches. Redis and Qdrant are two values of it (infra/services/redis.py, qdrant.py); each
target has one adapter that turns a `Store` into its resources."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from infra.services.baseline import Healthcheck


@dataclass(frozen=True)
class MonitoringUser:
    """A user for monitoring's exporter alone: `render` turns its generated password into
    the secret file `file` the store reads at start; the store then also joins `monitoring`."""

    file: str
    render: Callable[[str], str]


@dataclass(frozen=True)
class Store:
    service: str  # container suffix, label, and the `SERVICE-data` / `SERVICE-secrets` volumes
    alias: str  # its name on the internal network
    command: Sequence[str]
    data_dir: str  # where the data volume is mounted
    credential_file: str  # the secret file its password or key is read from
    file_owner: str  # UID:GID that owns its secret files
    healthcheck: Healthcheck
    user: str | None = None  # None: the image's own user
    env: Sequence[str] = ()
    tmpfs: Mapping[str, str] | None = None
    max_processes: int = 256
    max_open_files: int | None = None
    monitoring_user: MonitoringUser | None = None

    @property
    def data_volume(self) -> str:
        return f"{self.service}-data"

    @property
    def secrets_volume(self) -> str:
        return f"{self.service}-secrets"

"""A data store as data, for either target: one container (or task) whose data lives on a
named volume, whose credential is a secret file, and which only the internal network
reaches. Redis and Qdrant are two values of it (infra/services/redis.py, qdrant.py); each
target has one adapter that turns a `Store` into its resources."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from infra.services.baseline import Baseline, Healthcheck


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

    def baseline(self, stack: str, memory_mb: int, secrets_revision: object) -> Baseline:
        """The container baseline of this store: its limits and healthcheck, tied to the
        revision of the secrets it reads (a new one replaces it)."""
        return Baseline(
            service=self.service,
            stack=stack,
            memory_mb=memory_mb,
            healthcheck=self.healthcheck,
            max_processes=self.max_processes,
            max_open_files=self.max_open_files,
            tmpfs=self.tmpfs,
            secrets_revision=secrets_revision,
        )

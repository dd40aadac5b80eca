"""The baseline every service gets, as plain data, for either target: json-file logs
rotated at 1 MB x 3, a restart policy, a healthcheck, every capability dropped except
those named, no-new-privileges, memory and process limits, a read-only root filesystem
with tmpfs scratch space, and the labels that tests/infra and the e2e harness select by.
Each target translates it: infra/targets/host/containers.py into a docker.Container's
arguments, infra/targets/swarm/spec.py into a docker.Service's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

LOG_OPTS = {"max-size": "1m", "max-file": "3"}
RESTART = "unless-stopped"
DEFAULT_TMPFS = {"/tmp": "rw,noexec,nosuid,size=64m"}


@dataclass(frozen=True)
class Healthcheck:
    test: Sequence[str]
    interval: str = "10s"
    timeout: str = "5s"
    retries: int = 3
    start_period: str = "20s"
    start_interval: str = "1s"


@dataclass(frozen=True)
class Baseline:
    service: str
    stack: str
    memory_mb: int
    healthcheck: Healthcheck
    max_processes: int = 256
    max_open_files: int | None = None
    cap_add: Sequence[str] = ()
    read_only: bool = True
    tmpfs: Mapping[str, str] | None = None
    stop_timeout: int = 30
    # The revision of the secrets the service reads (infra/targets/host/secret_files.py): a new one
    # replaces the container.
    secrets_revision: pulumi.Input[str] | None = None

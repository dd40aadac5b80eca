"""Writes a stack's rendered monitoring files into a directory, with paths that exist there."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from infra import config
from infra.monitoring.render import (
    render_alertmanager,
    render_blackbox,
    render_mtail,
    render_prometheus,
)
from infra.monitoring.runtime import DEFAULT_RUNTIME, MonitoringRuntime

STACKS = ("dev", "prod")


def local_runtime(directory: Path, **overrides) -> MonitoringRuntime:
    """The default topology with every file path moved under `directory`."""
    secrets = directory / "secrets"
    secrets.mkdir(exist_ok=True)
    for name in ("qdrant-api-key", "smtp-password"):
        (secrets / name).write_text("test-secret")  # no newline: Alertmanager reads it verbatim
    paths = {
        "config_dir": str(directory),
        "alertmanager_dir": str(directory),
        "secrets_dir": str(secrets),
    }
    return dataclasses.replace(DEFAULT_RUNTIME, **{**paths, **overrides})


def write(stack_config: config.StackConfig, directory: Path, runtime: MonitoringRuntime) -> Path:
    (directory / "mtail").mkdir(exist_ok=True)
    for name, text in render_prometheus(stack_config, runtime).items():
        (directory / name).write_text(text)
    for name, text in render_alertmanager(stack_config, runtime).items():
        (directory / name).write_text(text)
    for name, text in render_blackbox(stack_config, runtime).items():
        (directory / name).write_text(text)
    for name, text in render_mtail(stack_config, runtime).items():
        (directory / "mtail" / name).write_text(text)
    return directory

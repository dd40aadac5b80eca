"""The real path, where a Pulumi CLI is installed: `pulumi up` on an ephemeral local-backend
stack, then `pulumi destroy`. Present but not exercised on this machine (no CLI here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from infra.config import schema


def available() -> bool:
    return shutil.which("pulumi") is not None


def _env(workdir: Path) -> dict[str, str]:
    backend = workdir / "pulumi-backend"
    backend.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", "ora-e2e"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }


def _run(project: Path, workdir: Path, *args: str) -> str:
    result = subprocess.run(
        ["pulumi", *args, "--non-interactive", "--cwd", str(project)],
        env=_env(workdir),
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def up(project: Path, stack: str, workdir: Path, overrides: dict[str, str]) -> dict:
    try:
        _run(project, workdir, "stack", "select", stack)
    except subprocess.CalledProcessError:
        _run(project, workdir, "stack", "init", stack)
    secret = set(schema.secret_keys())
    for key, value in overrides.items():
        flags = ["--secret"] if key in secret else []
        # `--` ends the flags: a value may start with "-" (a PEM's -----BEGIN).
        _run(project, workdir, "config", "set", *flags, "--stack", stack, "--", f"ora:{key}", value)
    _run(project, workdir, "up", "--yes", "--skip-preview", "--stack", stack)
    return json.loads(_run(project, workdir, "stack", "output", "--json", "--stack", stack))


def destroy(project: Path, stack: str, workdir: Path) -> None:
    _run(project, workdir, "destroy", "--yes", "--stack", stack)
    _run(project, workdir, "stack", "rm", "--yes", "--force", stack)

"""The real path, where a Pulumi CLI is installed: `pulumi up` on an ephemeral local-backend
stack, then `pulumi destroy`. Present but not exercised on this machine (no CLI here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path


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
    for key, value in overrides.items():
        _run(project, workdir, "config", "set", f"ora:{key}", value, "--stack", stack)
    _run(project, workdir, "up", "--yes", "--skip-preview", "--stack", stack)
    return json.loads(_run(project, workdir, "stack", "output", "--json", "--stack", stack))


def destroy(project: Path, stack: str, workdir: Path) -> None:
    _run(project, workdir, "destroy", "--yes", "--stack", stack)
    _run(project, workdir, "stack", "rm", "--yes", "--force", stack)

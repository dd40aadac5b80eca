"""A runner that records each command line instead of starting restic or docker, and a run
of the backup built on it, under a test's own directories."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from infra.hosttools.backup import cli
from infra.hosttools.backup.messages import Output
from infra.hosttools.backup.run import Run
from infra.hosttools.backup.runner import Result
from infra.hosttools.backup.settings import load

Answer = Callable[[list[str], dict], Result]


class FakeRunner:
    """`answer(argv, options)` plays each program; `calls` keeps every argv, in order."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer or (lambda argv, options: Result(0))
        self.calls: list[list[str]] = []

    def run(self, argv, **options) -> Result:
        self.calls.append(list(argv))
        return self.answer(list(argv), options)

    def start(self, argv, **options):
        raise AssertionError(f"not expected to start in the background: {argv}")

    def ran(self, *prefix: str) -> list[list[str]]:
        """The calls that begin with `prefix`."""
        return [call for call in self.calls if call[: len(prefix)] == list(prefix)]


def host(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a host whose files live under `tmp_path`; docker and restic are
    on its PATH (never started: the runner is fake)."""
    tools = tmp_path / "bin"
    tools.mkdir(exist_ok=True)
    for tool in ("docker", "restic"):
        (tools / tool).write_text("#!/bin/sh\nexit 99\n")
        (tools / tool).chmod(0o755)
    password = tmp_path / "restic-password"
    password.write_text("a-password-0123456789\n")
    env = {
        "PATH": str(tools),
        "ORA_BACKUP_SETTINGS": "/dev/null",
        "ORA_BACKUP_CREDENTIALS": "/dev/null",
        "ORA_STACK": "dev",
        "RESTIC_REPOSITORY": str(tmp_path / "repo"),
        "RESTIC_PASSWORD_FILE": str(password),
        "ORA_BACKUP_STAGING": str(tmp_path / "staging"),
        "ORA_BACKUP_TEXTFILE_DIR": str(tmp_path / "textfile"),
    }
    return {**env, **overrides}


def run_of(env: dict[str, str], runner: FakeRunner | None = None) -> tuple[Run, io.StringIO]:
    """A run and the stream its messages go to."""
    stream = io.StringIO()
    return Run(load(env), Output("backup.sh", stream), runner or FakeRunner()), stream


def main(env: dict[str, str], runner: FakeRunner, *argv: str) -> int:
    return cli.main(list(argv), env, "backup.sh", runner)

"""The one place that starts programs (restic, docker, tar): tests hand in a fake."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

# How long a job interrupted at the end of a run may take to clean up before it is killed.
STOP_GRACE = 30

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
Stream = int | IO[Any] | None  # PIPE, DEVNULL, an open file, or None: inherited


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def shell_status(returncode: int) -> int:
    """A process's exit status as a shell reports it: 128 + N when signal N killed it."""
    return 128 - returncode if returncode < 0 else returncode


def _text(data: bytes | None) -> str:
    return data.decode(errors="replace") if data else ""


class Runner:
    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: Stream = None,
        stdout: Stream = PIPE,
        stderr: Stream = None,
    ) -> Result:
        """Runs `argv` to its end; what went to PIPE comes back as text."""
        try:
            done = subprocess.run(
                list(argv), env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr
            )
        except FileNotFoundError:
            return Result(127, "", f"{argv[0]}: command not found\n")
        return Result(shell_status(done.returncode), _text(done.stdout), _text(done.stderr))

    def start(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, **streams: Any
    ) -> subprocess.Popen:
        """Starts `argv` and returns at once: a stream to read, or a job to wait for."""
        return subprocess.Popen(list(argv), env=env, **streams)


def stop(process: subprocess.Popen) -> None:
    """A job still running when the run ends (it failed meanwhile) is interrupted and waited
    for. SIGINT, not SIGTERM: restic removes its repository lock on SIGINT only (0.14 has no
    SIGTERM handler), and a lock left behind would stop the next exclusive command (key
    remove, prune). In the instant between writing its lock and registering it, restic
    leaves it even then: the exclusive commands remove stale locks first. A job that has
    not ended after STOP_GRACE seconds is killed."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

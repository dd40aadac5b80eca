"""The off-host copy: each new snapshot copied (restic copy) into a second repository,
which is created on first use with the local one's chunker parameters."""

from __future__ import annotations

from .messages import Die
from .restic import wrong_password
from .run import Run, seconds_since
from .runner import DEVNULL, PIPE, Result

KEPT = "(the local backup is stored)"


def _restic(run: Run, *args: str, stderr=None) -> Result:
    """restic on the off-host repository, with the local one as the source."""
    settings = run.settings
    return run.restic.run(
        *args, "--from-repo", settings.repository,
        "--from-password-file", settings.password_file,
        repository=settings.offsite, password_file=settings.offsite_password_file,
        stdout=DEVNULL, stderr=stderr,
    )  # fmt: skip


def copy(run: Run, snapshot: str) -> None:
    """Copies `snapshot`; tried first, and only when it fails is the repository looked at
    (absent: created, and the copy runs again)."""
    offsite = run.settings.offsite
    if not offsite:
        return
    started, short = run.clock.micros(), snapshot[:8]
    failed = f"restic copy of snapshot {short} to {offsite} failed {KEPT}"
    tried = _restic(run, "copy", "--quiet", snapshot, stderr=PIPE)
    if not tried.ok:
        state = run.restic.state(offsite, run.settings.offsite_password_file)
        if state.kind == "refused":
            raise Die(f"{state.reason}; nothing was copied off-host {KEPT}")
        if state.kind == "wrong-password":
            password_file = run.settings.offsite_password_file
            raise Die(f"{wrong_password(offsite, password_file, run.prog)} {KEPT}")
        if state.kind != "absent":
            run.output.write(tried.stderr.rstrip("\n"))
            raise Die(failed)
        run.say(f"initialising the off-host repository {offsite}")
        if not _restic(run, "init", "--copy-chunker-params").ok:
            raise Die(f"cannot initialise the off-host repository {offsite} {KEPT}")
        if not _restic(run, "copy", "--quiet", snapshot).ok:
            raise Die(failed)
    # Timed apart from the backup: the drill's backup time includes this copy.
    took = seconds_since(started, run.clock.micros())
    run.say(f"copied snapshot {short} to the off-host repository {offsite} in {took} s")

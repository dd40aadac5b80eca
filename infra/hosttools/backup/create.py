"""create: Redis's AOF files (or a BGSAVE snapshot), Qdrant's collection snapshots (its
API) and the app data volume, with manifest.json, stored as one restic snapshot."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

from . import manifest, metrics, offsite, redis_store, volumes
from .messages import CommandFailed, Die
from .names import NAME_PATTERN, VOLUMES, name
from .restic import newest_id
from .run import Run, seconds_since
from .runner import DEVNULL, PIPE, shell_status, stop
from .staging import Staging


def utc_stamp() -> str:
    return time.strftime("%Y%m%d_%H%M%S", time.gmtime())


def check_name(backup: str) -> None:
    if not re.fullmatch(NAME_PATTERN.strip("^$"), backup):
        raise Die(f"backup name '{backup}' must match {NAME_PATTERN}")


def _start_lookup(run: Run, backup: str, scratch: str):
    """Looks the name up while the data is copied (restic's key derivation alone takes
    most of a second); the copies only read, so a taken name still stops the run before
    anything is stored. None when it cannot even start."""
    try:
        args = run.restic.snapshots_args(f"name={backup}")
        argv = run.restic.argv(run.settings.repository, *args)
    except Die:
        return None
    with open(os.path.join(scratch, "existing"), "wb") as out:
        process = run.runner.start(argv, env=run.settings.env, stdout=out, stderr=DEVNULL)
    run.cleanup.callback(stop, process)
    return process


def _existing(run: Run, lookup, scratch: str, backup: str) -> str:
    """The id of a backup already named `backup`, or ""."""
    if lookup is not None and lookup.wait() == 0:
        try:
            return newest_id(Path(scratch, "existing").read_text())
        except (ValueError, KeyError, TypeError):
            pass
    # Only when the lookup failed is the repository looked at (absent: it is created;
    # a wrong password: one message).
    run.restic.ensure()
    try:
        return run.restic.snapshot_id_of(backup)
    except CommandFailed:
        raise Die(f"cannot list the snapshots of {run.settings.repository}") from None


def _start_qdrant_snapshots(run: Run, container: str, work: str, scratch: str):
    """Qdrant makes its snapshots (its own CPU and disk) while the volumes are copied. Its
    messages wait in a file off the staging disk (which may be the one that fills)."""
    package_root = Path(__file__).resolve().parents[__package__.count(".") + 1]
    argv = [sys.executable, "-P", "-m", f"{__package__}.qdrant", container, work]
    env = {**run.settings.env, "PYTHONPATH": str(package_root)}
    with (
        open(os.path.join(work, "qdrant-artefacts"), "w") as out,
        open(os.path.join(scratch, "qdrant.err"), "w") as errors,
    ):
        process = run.runner.start(argv, env=env, stdout=out, stderr=errors)
    run.cleanup.callback(stop, process)
    return process


def _qdrant_lines(job, work: str, scratch: str) -> str:
    """The artefact lines of the finished Qdrant job; its messages shown once it is done."""
    finished = job.wait()
    said = Path(scratch, "qdrant.err").read_text(errors="replace")
    if finished != 0:
        prefix = "backup.sh: error: "
        errors = [line[len(prefix) :] for line in said.splitlines() if line.startswith(prefix)]
        lines = said.splitlines()
        why = (errors or lines or [""])[-1]
        raise Die(
            f"the Qdrant snapshots failed: {why or 'no message'} (disk full?); no backup was stored"
        )
    sys.stderr.write(said)
    sys.stderr.flush()
    listed = Path(work, "qdrant-artefacts")
    text = listed.read_text().rstrip("\n")
    listed.unlink()
    return text


class Timings:
    """Seconds of each phase, printed at the end (the drill's time ratio is read from them)."""

    def __init__(self, run: Run) -> None:
        self.run, self.laps, self.mark = run, [], run.clock.micros()

    def lap(self, phase: str) -> None:
        now = self.run.clock.micros()
        self.laps.append(f"{phase} {seconds_since(self.mark, now)} s")
        self.mark = now

    def __str__(self) -> str:
        return ", ".join(self.laps)


def _copy_data(run: Run, staging: Staging, image: str, redis: str, timings: Timings) -> int:
    """Redis's and the app's volumes into the staging directory; returns Redis's keys."""
    stack = run.settings.stack
    keys = redis_store.keys(run, redis)
    volume = name(stack, "redis-data")
    target = os.path.join(staging.work, f"{volume}.tar")
    copied = redis_store.aof_copy(run, redis, image, volume, target)
    if copied.startswith("aof"):
        staging.note(f"volume {volume}.tar {volume} redis-aof {copied[len('aof ') :]}")
        timings.lap("redis AOF copy")
    else:
        redis_store.bgsave(run, redis)
        keys = redis_store.keys(run, redis)
        volumes.archive(run, image, volume, target, "dump.rdb")
        staging.note(f"volume {volume}.tar {volume} redis {redis_store.lastsave(run, redis)}")
        timings.lap("redis BGSAVE and copy")
    volume = name(stack, "app-data")
    volumes.archive(run, image, volume, os.path.join(staging.work, f"{volume}.tar"))
    staging.note(f"volume {volume}.tar {volume} app -")
    timings.lap("app volume copy")
    return keys


def _store(run: Run, work: str, backup: str, total: int, tags: list[str]) -> dict:
    """restic backup of `work`: the summary of the snapshot it wrote. restic writes the
    snapshot only when every file is stored: an interrupted or failed run (disk full)
    leaves no snapshot, only unreferenced data that prune removes."""
    settings = run.settings
    args = ["backup", "--json", "--tag", "ora", "--tag", f"stack={settings.stack}"]
    args += ["--tag", f"name={backup}", "--tag", f"bytes={total}"]
    args += [word for tag in tags for word in ("--tag", tag)] + ["."]
    errors_path = os.path.join(settings.staging, "restic-backup.err")
    last, status = "", 0
    with open(errors_path, "w") as errors:
        try:
            argv = run.restic.argv(settings.repository, *args)
        except Die as error:
            errors.write(run.output.error_line(error.message) + "\n")
            status = 1
        else:
            process = run.runner.start(argv, env=settings.env, cwd=work, stdout=PIPE, stderr=errors)
            for line in process.stdout:
                last = line
            process.stdout.close()
            status = shell_status(process.wait())
    said = Path(errors_path).read_text(errors="replace")
    if said:
        sys.stderr.write(said)
        sys.stderr.flush()
    os.remove(errors_path)
    if status != 0:
        why = f"failed (exit {status})"
        if status > 128:
            why = f"was interrupted (signal {status - 128})"
        if "no space left on device" in said:
            why = (
                f"failed: the disk of the repository {settings.repository} is full (no space"
                " left on device)"
            )
        # A killed restic leaves its lock behind, which would stop the next prune or check.
        run.restic.unlock_stale()
        raise Die(
            f"restic backup {why}: no snapshot named '{backup}' was written and the earlier"
            f" backups are intact; '{run.prog} prune' removes the data this run left unreferenced"
        )
    return json.loads(last)


def create(run: Run, backup: str | None = None) -> str:
    """Takes a backup named `backup` (default ora_backup_YYYYMMDD_HHMMSS, UTC); returns its
    name."""
    settings, docker = run.settings, run.docker
    backup = backup or f"ora_backup_{utc_stamp()}"
    check_name(backup)
    scratch = tempfile.mkdtemp()
    run.cleanup.callback(shutil.rmtree, scratch, ignore_errors=True)
    lookup = _start_lookup(run, backup, scratch)
    redis = docker.store_container("redis")
    qdrant_container = docker.store_container("qdrant")
    image = docker.helper_image()
    for volume in VOLUMES:
        docker.require_volume(name(settings.stack, volume))

    staging = Staging(settings.staging)
    staging.reset()
    timings = Timings(run)
    job = _start_qdrant_snapshots(run, qdrant_container, staging.work, scratch)
    keys = _copy_data(run, staging, image, redis, timings)
    staging.note(_qdrant_lines(job, staging.work, scratch))
    timings.lap("Qdrant snapshots (waited for)")
    for service, container, reference, image_id in docker.stack_images():
        staging.note(f"image {service} {container} {reference} {image_id}")
    described = manifest.document(
        staging.work, backup, settings.stack, socket.gethostname(), keys, staging.lines()
    )
    total, tags = manifest.write(staging.work, described)
    os.remove(staging.artefacts)
    timings.lap("manifest")

    if _existing(run, lookup, scratch, backup):
        raise Die(
            f"a backup named '{backup}' already exists for stack {settings.stack}; nothing was"
            " stored"
        )
    summary = _store(run, staging.work, backup, total, tags)
    timings.lap("restic backup")
    run.say(f"timings: {timings}")
    snapshot = str(summary.get("snapshot_id", ""))
    if run.metric:
        metrics.record(run, "1", str(total), str(summary.get("data_added", "")))
        # A whole, successful backup: an unfinished rollback's note is over (its safety
        # backup stays in the repository).
        _remove(os.path.join(settings.staging, "rollback.pending"))
    staging.remove()
    run.say(
        f"backup {backup} of stack {settings.stack} stored in {settings.repository}"
        f" ({total} bytes before dedup)"
    )
    offsite.copy(run, snapshot)
    return backup


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)

"""Docker volumes copied to and from tar files by helper containers (the redis image)."""

from __future__ import annotations

import os

from .messages import Die
from .names import name
from .run import Run
from .runner import DEVNULL, PIPE

EMPTY_AND_UNPACK = "find /v -mindepth 1 -delete && tar -C /v --numeric-owner -xpf -"
# Redis with appendonly ignores a dump.rdb without an AOF: the snapshot becomes the base of
# a fresh one. Backups made before format 2 carry their own AOF: it is kept.
REDIS_AOF_FROM_SNAPSHOT = (
    " && { [ -d /v/appendonlydir ] || { mkdir /v/appendonlydir"
    " && cp -p /v/dump.rdb /v/appendonlydir/appendonly.aof.1.base.rdb"
    ' && printf "file appendonly.aof.1.base.rdb seq 1 type b\\n"'
    " >/v/appendonlydir/appendonly.aof.manifest"
    ' && chown -R "$(stat -c %u:%g /v/dump.rdb)" /v/appendonlydir; }; }'
)
FAILING_RESTORE = "find /v -mindepth 1 -delete; exit 1"


def archive(run: Run, image: str, volume: str, target: str, what: str = ".") -> None:
    """A tar of `volume` (mounted read-only) in `target`. GNU tar exits 1 when a file
    changed while it was read: the copy is complete, that file may be torn; anything else
    is a failure."""
    helper = run.docker.helper("-v", f"{volume}:/v:ro", "--entrypoint", "tar", image)
    tar = ["-C", "/v", "--numeric-owner", "--warning=no-file-changed", "-cf", "-", what]
    try:
        with open(target, "wb") as out:
            status = run.runner.run([*helper, *tar], env=run.settings.env, stdout=out).returncode
    except OSError:
        status = 1
    # A full disk or a broken pipe also exits 1: the archive must read back whole.
    if not (_non_empty(target) and _lists(run, target)):
        raise Die(
            f"archiving the volume {volume} into {target} failed (disk full? exit {status});"
            " no backup was stored"
        )
    if status == 1:
        run.say(
            f"warning: a file of {volume} changed while it was copied (tar exit 1); the copy"
            " is complete"
        )
    elif status != 0:
        raise Die(f"archiving the volume {volume} failed (tar exit {status}); no backup was stored")


def restore_script(run: Run, volume: str) -> str:
    """What the helper runs to empty `volume` and unpack the tar on its stdin into it.
    ORA_BACKUP_FAILPOINT=restore:VOLUME (tests only) empties VOLUME and then fails."""
    if run.settings.failpoint == f"restore:{volume}":
        return FAILING_RESTORE
    if volume == name(run.settings.stack, "redis-data"):
        return EMPTY_AND_UNPACK + REDIS_AOF_FROM_SNAPSHOT
    return EMPTY_AND_UNPACK


def restore(run: Run, image: str, volume: str, source: str) -> bool:
    """Empties `volume` and unpacks the tar file `source` into it."""
    helper = run.docker.helper("-v", f"{volume}:/v", "--entrypoint", "sh", image)
    with open(source, "rb") as tar:
        done = run.runner.run(
            [*helper, "-c", restore_script(run, volume)], env=run.settings.env, stdin=tar,
            stdout=None,
        )  # fmt: skip
    return done.ok


def usage(run: Run, image: str, volume: str) -> tuple[str, str]:
    """(files, bytes) of a live volume, "?" where unknown."""
    helper = run.docker.helper("-v", f"{volume}:/v:ro", "--entrypoint", "find", image)
    done = run.runner.run(
        [*helper, "/v", "-type", "f", "-printf", "%s\\n"], env=run.settings.env, stdin=DEVNULL,
        stdout=PIPE, stderr=DEVNULL,
    )  # fmt: skip
    try:
        sizes = [int(word) for word in done.stdout.split()]
    except ValueError:
        return "?", "?"
    return str(len(sizes)), str(sum(sizes))


def _non_empty(path: str) -> bool:
    try:
        return os.stat(path).st_size > 0
    except OSError:
        return False


def _lists(run: Run, path: str) -> bool:
    listed = run.runner.run(["tar", "-tf", path], stdout=DEVNULL, stderr=DEVNULL)
    return listed.ok

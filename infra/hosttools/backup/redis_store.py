"""Redis's part of a backup: its keys, its AOF copied between two commands (or a BGSAVE
snapshot when it keeps no multi-part AOF), all through redis-cli in its container."""

from __future__ import annotations

import os
import re
import time

from . import aof
from .messages import CommandFailed, Die
from .run import Run
from .runner import PIPE, shell_status

WAIT_SECONDS = 300


def keys_in(info_keyspace: str) -> int:
    """The keys of every database in `INFO keyspace`."""
    return sum(int(n) for n in re.findall(r"^db\d+:keys=(\d+)", info_keyspace, re.M))


def aof_state(info_persistence: str) -> str:
    """The AOF's state, "on|off REWRITES idle|busy": whether Redis keeps an AOF, how many
    rewrites it has done, and whether one runs or is scheduled now."""
    info = dict(line.split(":", 1) for line in info_persistence.splitlines() if ":" in line)
    busy = info.get("aof_rewrite_in_progress") == "1" or info.get("aof_rewrite_scheduled") == "1"
    enabled = "on" if info.get("aof_enabled") == "1" else "off"
    return f"{enabled} {info.get('aof_rewrites', '?')} {'busy' if busy else 'idle'}"


def _info(run: Run, redis: str, section: str) -> str:
    done = run.docker.redis_cli(redis, "INFO", section)
    if not done.ok:
        argv = ["docker", "exec", redis, "redis-cli", "INFO", section]
        raise CommandFailed(argv, done.returncode)
    return done.stdout


def keys(run: Run, redis: str) -> int:
    return keys_in(_info(run, redis, "keyspace"))


def lastsave(run: Run, redis: str) -> int:
    done = run.docker.redis_cli(redis, "LASTSAVE")
    reply = done.stdout.rstrip("\n")
    if not done.ok:
        raise Die(f"redis-cli LASTSAVE failed in {redis}")
    if not re.fullmatch(r"[0-9]+", reply):
        raise Die(f"unexpected LASTSAVE reply from {redis}: {reply[:80]}")
    return int(reply)


def bgsave(run: Run, redis: str) -> None:
    """A BGSAVE snapshot (dump.rdb), waited for."""
    before = lastsave(run, redis)
    # LASTSAVE has a resolution of one second: make a new save distinguishable.
    now = int(time.time())
    if now <= before:
        run.clock.sleep(before - now + 1)
    # SCHEDULE: if an AOF rewrite is running, the save starts right after it.
    done = run.docker.redis_cli(redis, "BGSAVE", "SCHEDULE")
    if not done.ok:
        raise Die(f"redis-cli BGSAVE failed in {redis}")
    run.say(f"redis {redis}: {done.stdout.rstrip(chr(10))}")
    deadline = run.clock.seconds() + WAIT_SECONDS
    while lastsave(run, redis) <= before:
        if run.clock.seconds() >= deadline:
            raise Die(f"redis {redis}: BGSAVE did not finish within {WAIT_SECONDS} s")
        run.clock.sleep(0.5)
    if not any(
        line.startswith("rdb_last_bgsave_status:ok")
        for line in _info(run, redis, "persistence").splitlines()
    ):
        raise Die(f"redis {redis}: the last BGSAVE failed (redis-cli INFO persistence)")


def _state(run: Run, redis: str) -> str:
    return aof_state(_info(run, redis, "persistence"))


def _copy_once(run: Run, image: str, volume: str, target: str) -> tuple[list[int], str]:
    """One pass of the helper's tar into `target`: ([helper's status, copy's status],
    what the copy reported)."""
    helper = run.docker.helper(
        "-v", f"{volume}:/v:ro", "--entrypoint", "sh", image, "-c", aof.AOF_FILES
    )
    process = run.runner.start(helper, env=run.settings.env, stdout=PIPE)
    try:
        status, said = aof.copy_stream(process.stdout, target)
        if status == 0:  # the end-of-archive blocks: read, so that tar ends cleanly
            while process.stdout.read(1 << 16):
                pass
    finally:
        process.stdout.close()
        helper_status = shell_status(process.wait())
    return [helper_status, status], said


def aof_copy(run: Run, redis: str, image: str, volume: str, target: str) -> str:
    """Redis's append-only files as they stand between two commands: the base (unchanged
    until Redis rewrites the AOF) and the incr files, the last cut after its last whole
    command. No rewrite may run meanwhile, else the copy is taken again. Returns "aof CUT"
    (bytes kept of the last incr file), or "rdb" when Redis keeps no multi-part AOF and the
    caller must take a BGSAVE snapshot instead."""
    deadline = run.clock.seconds() + WAIT_SECONDS
    while True:
        try:
            before = _state(run, redis)
        except CommandFailed:
            raise Die(f"redis-cli INFO persistence failed in {redis}") from None
        if not before.startswith("on "):
            return "rdb"
        if before.endswith(" idle"):
            statuses, said = _copy_once(run, image, volume, target)
            if statuses[0] == aof.NO_MANIFEST:
                if os.path.lexists(target):
                    os.remove(target)
                return "rdb"
            if any(statuses):
                shown = said[:-1] if said.endswith("\n") else said
                raise Die(
                    f"copying the AOF of {volume} failed: {shown + ' ' if said else ''}(disk"
                    f" full? exit {statuses[0]} {statuses[1]}); no backup was stored"
                )
            if _state(run, redis) == before:
                return f"aof {said.rstrip(chr(10))}"
            run.say(f"redis {redis}: an AOF rewrite ran during the copy; copying again")
        if run.clock.seconds() >= deadline:
            raise Die(
                f"redis {redis}: an AOF rewrite kept running for {WAIT_SECONDS} s; no backup"
                " was stored"
            )
        run.clock.sleep(1)

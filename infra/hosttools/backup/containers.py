"""Stopping and starting the stack's containers around a restore; what this run stopped
and has not started again is reported if it fails."""

from __future__ import annotations

from . import volumes
from .listing import counts_line
from .messages import CommandFailed, Die
from .names import name
from .qdrant import Qdrant
from .redis_store import keys_in
from .run import Run
from .runner import DEVNULL


def stop(run: Run, containers: list[str]) -> None:
    if not containers:
        return
    run.say(f"stopping {' '.join(containers)}")
    began = run.clock.seconds()
    run.stopped.extend(containers)
    done = run.docker.run("stop", *containers, stdout=DEVNULL)
    if not done.ok:
        raise CommandFailed(["docker", "stop", *containers], done.returncode)
    run.say(f"stopped in {run.clock.seconds() - began} s")


def start(run: Run, containers: list[str]) -> None:
    if not containers:
        return
    run.say(f"starting {' '.join(containers)}")
    done = run.docker.run("start", *containers, stdout=DEVNULL)
    if not done.ok:
        raise CommandFailed(["docker", "start", *containers], done.returncode)
    wait_healthy(run, containers)
    run.stopped[:] = [c for c in run.stopped if c not in containers]


def wait_healthy(run: Run, containers: list[str]) -> None:
    """Each container healthy, or running when it has no healthcheck, within
    ORA_BACKUP_HEALTH_TIMEOUT seconds of them all."""
    timeout = int(run.settings.health_timeout)
    began = run.clock.seconds()
    deadline = began + timeout
    for container in containers:
        while True:
            state = run.docker.health(container)
            if state == "healthy":
                break
            if state == "running" and not run.docker.has_healthcheck(container):
                break
            if run.clock.seconds() >= deadline:
                raise Die(
                    f"{container} is '{state}', not healthy, after {timeout} s"
                    f" (docker logs {container})"
                )
            run.clock.sleep(1)
        run.say(f"{container} is {state} ({run.clock.seconds() - began} s)")


def _first(run: Run, service: str) -> str:
    try:
        found = run.docker.containers(service)
    except CommandFailed:
        return ""
    return found[0] if found else ""


def live_counts(run: Run, image: str) -> str:
    """Counts of the live stack (what a rollback replaces and what it brought back); "?"
    for what cannot be counted."""
    keys, qdrant = "?", {}
    redis, qdrant_container = _first(run, "redis"), _first(run, "qdrant")
    if redis:
        done = run.docker.redis_cli(redis, "INFO", "keyspace", stderr=DEVNULL)
        keys = str(keys_in(done.stdout)) if done.ok else "?"
    if qdrant_container:
        try:
            qdrant = Qdrant(qdrant_container, quiet=True).counts()
        except Exception:  # counts are for show: "no collections" then
            qdrant = {}
    usage = volumes.usage(run, image, name(run.settings.stack, "app-data"))
    return counts_line(keys, usage, qdrant)

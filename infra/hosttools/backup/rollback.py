"""rollback NAME: verify NAME's checksums, take a safety backup of the current state, stop
app/worker/redis, restore, start, wait until healthy."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import traceback

from . import containers, volumes
from .create import check_name, create, utc_stamp
from .manifest import Invalid, verify
from .messages import CommandFailed, Die, helper_error
from .names import QDRANT_VOLUME, name
from .qdrant import Qdrant, QdrantError
from .qdrant_restore import restore_all
from .run import Run
from .runner import DEVNULL

Plan = list[tuple[str, str, str]]  # (kind, file, volume or collection)


def _verified(work: str, stack: str) -> Plan | None:
    """The plan of the restored backup in `work`, or None (the reason printed)."""
    try:
        return verify(work, stack)
    except Invalid as problems:
        helper_error(str(problems))
    except Exception:  # a manifest that is not one: shown whole
        traceback.print_exc(file=sys.stderr)
    return None


def _restored(run: Run, backup: str, snapshot: str, work: str) -> Plan:
    """The backup's verified artefacts in `work`: those of an earlier attempt, or restored
    from the repository now. They stay there until the rollback succeeds."""
    if os.path.isfile(os.path.join(work, ".verified")):
        plan = _verified(work, run.settings.stack)
        if plan is not None:
            run.say(f"reusing the verified artefacts of {backup} in {work}")
            return plan
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    run.say(f"restoring snapshot {snapshot[:8]} ({backup}) into {work}")
    if not run.restic.run("restore", "--quiet", snapshot, "--target", work, stdout=DEVNULL).ok:
        raise Die(f"restic restore of {backup} failed; nothing was changed")
    plan = _verified(work, run.settings.stack)
    if plan is None:
        raise Die(f"{backup} does not verify (see above); nothing was changed")
    open(os.path.join(work, ".verified"), "w").close()
    return plan


def _safety_backup(run: Run, backup: str, pending: str) -> str:
    """Nothing is ever lost: the current state first becomes a backup of its own, unless an
    unfinished rollback already kept it (its own state now is half-restored)."""
    if os.path.isfile(pending) and os.path.getsize(pending) > 0:
        with open(pending) as handle:
            safety = handle.read().rstrip("\n")
        run.say(
            f"a previous rollback did not finish; the state before it is the backup {safety}:"
            " no new safety backup"
        )
        return safety
    safety = f"pre-rollback-{backup}-{utc_stamp()}"
    if len(safety) > 200:
        safety = f"pre-rollback-{utc_stamp()}"
    run.say(f"taking the safety backup {safety} of the current state")
    began = run.clock.seconds()
    create(run, safety)
    run.say(f"safety backup taken in {run.clock.seconds() - began} s")
    with open(pending, "w") as out:
        out.write(safety + "\n")
    return safety


def recovery_hint(prog: str, backup: str, safety: str, work: str) -> str:
    return (
        f"the rollback to {backup} did not finish. The state before it is the backup {safety};\n"
        f"  the verified artefacts of {backup} stay in {work}. Recover with one of:\n"
        f"    {prog} rollback {backup}       (retry, once the cause is fixed)\n"
        f"    {prog} rollback {safety}     (back to where you were)\n"
        "  neither takes another safety backup, and both start the stopped containers."
    )


def _all(run: Run, *services: str) -> list[str]:
    """All containers of the services; none when docker cannot list them."""
    try:
        return [c for service in services for c in run.docker.containers(service, True)]
    except CommandFailed:
        return []


def _restore_qdrant(run: Run, work: str) -> None:
    found = run.docker.containers("qdrant", everything=True)
    if not found:
        raise Die(
            f"no qdrant container of stack {run.settings.stack} to restore the collections into"
        )
    try:
        healthy = run.docker.health(found[0]) == "healthy"
    except CommandFailed:
        healthy = False
    if not healthy:
        containers.start(run, found[:1])
    try:
        restore_all(Qdrant(found[0]), work)
    except QdrantError as error:
        helper_error(str(error))
        raise Die("restoring the Qdrant collections failed") from None
    except Exception:  # shown whole, then the one message
        traceback.print_exc(file=sys.stderr)
        raise Die("restoring the Qdrant collections failed") from None


def rollback(run: Run, backup: str) -> str:
    """Rolls the stack back to `backup`; returns the line that says so."""
    settings, docker = run.settings, run.docker
    stack = settings.stack
    check_name(backup)
    run.restic.ensure()
    snapshot = run.restic.snapshot_id_of(backup)
    if not snapshot:
        raise Die(
            f"no backup named '{backup}' for stack {stack} in {settings.repository} (see:"
            f" {run.prog} list); nothing was changed"
        )
    work = os.path.join(settings.staging, "rollback", backup)
    plan = _restored(run, backup, snapshot, work)
    image = docker.helper_image()
    for kind, _, target in plan:
        if kind == "volume":
            docker.require_volume(target)
    safety = _safety_backup(run, backup, os.path.join(settings.staging, "rollback.pending"))
    run.recovery = recovery_hint(run.prog, backup, safety, work)
    run.say(f"before: {containers.live_counts(run, image)}")

    # Consumers first, then the data stores whose volumes are replaced.
    consumers, stores = _all(run, "app", "worker"), _all(run, "redis")
    if ("volume", name(stack, QDRANT_VOLUME)) in {(kind, target) for kind, _, target in plan}:
        stores += _all(run, "qdrant")
    containers.stop(run, consumers)
    containers.stop(run, stores)
    for kind, file, target in plan:
        if kind == "volume":
            run.say(f"replacing the content of {target} with {file}")
            if not volumes.restore(run, image, target, os.path.join(work, file)):
                raise Die(f"restoring {target} failed")
    containers.start(run, stores)
    if any(kind == "qdrant-snapshot" for kind, _, _ in plan):
        _restore_qdrant(run, work)
    containers.start(run, consumers)
    run.say(f"after: {containers.live_counts(run, image)}")
    run.recovery = ""
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(settings.staging, "rollback.pending"))
    shutil.rmtree(os.path.join(settings.staging, "rollback"), ignore_errors=True)
    return (
        f"rolled back stack {stack} to backup {backup} in {run.clock.seconds()} s; restarted:"
        f" {' '.join(consumers)} {' '.join(stores)}; the previous state is backup {safety}"
    )

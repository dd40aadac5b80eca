"""set-password: the new repository password arrives on stdin.

Every repository that uses the password file opens (with the old or the new password) or
does not exist yet, else nothing is changed. Each one that opens with the old password gets
the new one as a second key; only when all have it do the old keys go and the file change:
the file and the repositories never disagree.
"""

from __future__ import annotations

import contextlib
import filecmp
import json
import os
import sys
import tempfile

from .messages import Die
from .restic import State
from .run import Run
from .runner import DEVNULL

UNCHANGED = "the password is unchanged"


def _new_password_file(run: Run) -> str:
    """stdin, in a file beside the password file (removed unless it becomes that file)."""
    password_file = run.settings.password_file
    descriptor, path = tempfile.mkstemp(
        prefix=f"{os.path.basename(password_file)}.new.", dir=os.path.dirname(password_file) or "."
    )
    run.cleanup.callback(_remove, path)
    with os.fdopen(descriptor, "wb") as out:
        out.write(sys.stdin.buffer.read())
    if os.path.getsize(path) == 0:
        raise Die("set-password: the new password on stdin is empty")
    return path


def _state_of(run: Run, repository: str, new: str) -> State:
    """The repository's state with the old password file, else with the new one ("new")."""
    state = State("wrong-password")
    if os.path.isfile(run.settings.password_file):
        state = run.restic.state(repository, run.settings.password_file)
    if state.kind == "wrong-password":
        state = run.restic.state(repository, new)
        if state.kind == "opens":
            return State("new")
    return state


def _to_rotate(run: Run, new: str) -> list[str]:
    settings = run.settings
    repositories = [settings.repository]
    if settings.offsite and settings.offsite_password_file == settings.password_file:
        repositories.append(settings.offsite)
    rotating = []
    for repository in repositories:
        state = _state_of(run, repository, new)
        if state.kind == "opens":
            rotating.append(repository)
        elif state.kind == "new":
            run.say(f"{repository} already opens with the new password")
        elif state.kind == "absent":
            run.say(f"no repository at {repository} yet: it will be created with the new password")
        elif state.kind == "wrong-password":
            raise Die(
                f"the repository {repository} opens with neither the old nor the new password;"
                " nothing was changed"
            )
        else:
            raise Die(f"{state.reason}; nothing was changed")
    return rotating


def _current_key(run: Run, repository: str) -> str | None:
    listed = run.restic.run("key", "list", "--json", repository=repository)
    try:
        return next(k["id"] for k in json.loads(listed.stdout) if k.get("current"))
    except (ValueError, KeyError, TypeError, StopIteration):
        return None


def _add_keys(run: Run, rotating: list[str], new: str) -> list[str]:
    """The new password as a second key of each repository; returns their old keys' ids."""
    old_ids, added = [], []
    for repository in rotating:
        old_id = _current_key(run, repository)
        if old_id is None:
            also = f" but the new password is a second key of: {' '.join(added)}" if added else ""
            raise Die(f"restic key list failed in {repository}; nothing was changed{also}")
        old_ids.append(old_id)
        args = ("key", "add", "--new-password-file", new)
        if not run.restic.run(*args, repository=repository, stdout=DEVNULL).ok:
            also = f" (the new password is a second key of: {' '.join(added)})" if added else ""
            raise Die(
                f"restic key add failed in {repository}; the password file was not changed and"
                f" still opens every repository{also}"
            )
        added.append(repository)
    return old_ids


def set_password(run: Run) -> None:
    password_file = run.settings.password_file
    new = _new_password_file(run)
    if os.path.isfile(password_file) and filecmp.cmp(new, password_file, shallow=False):
        run.say(UNCHANGED)
        return
    rotating = _to_rotate(run, new)
    for repository in rotating:
        run.restic.unlock_stale(repository)  # else a killed restic's lock stops key remove
    old_ids = _add_keys(run, rotating, new)
    for repository, old_id in zip(rotating, old_ids, strict=True):
        removed = run.restic.run(
            "key", "remove", old_id, repository=repository, password_file=new, stdout=DEVNULL
        )
        if removed.ok:
            run.say(f"rotated the key of {repository} (removed key {old_id[:8]})")
        else:
            run.say(
                f"warning: the old key of {repository} could not be removed (restic key remove"
                f" {old_id}); the new one is in place"
            )
    os.replace(new, password_file)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)

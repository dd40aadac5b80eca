"""Deploy history and rollback of the app image.

The stack keeps the last HISTORY_LENGTH app images it deployed, newest first, in its
`appHistory` output: {image, deployedAt, deployer, rollback}. Each run reads the
previous list through a StackReference to the stack itself (the outputs of its last
completed update), and adds an entry only when the app image changes, so a no-op
`pulumi up` leaves the history as it was.

`make rollback` sets ora:appRollbackImage (an earlier entry) and ora:appRollbackFrom
(the image it replaces) and runs `pulumi up`. The override holds only while the stack
would otherwise still deploy appRollbackFrom: a new ora:appImage (the next CI deploy)
or a changed app/ supersedes it, with a warning, so no later deploy is silently stuck
on the old image.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

HISTORY_LENGTH = 10
OUTPUT = "appHistory"


@dataclass(frozen=True)
class Choice:
    image: str  # the reference to run
    rollback: bool  # a rollback is in effect
    warning: str | None = None


def choose_image(desired: str, rollback: str | None, rollback_from: str | None) -> Choice:
    """`desired`: what appImage (or app/) gives now; the rollback wins only over the
    image it was made from."""
    if not rollback:
        return Choice(desired, False)
    if rollback_from == desired:
        return Choice(rollback, True)
    return Choice(
        desired,
        False,
        f"ora:appRollbackImage = {rollback} is superseded: it rolled back {rollback_from}, "
        f"and the stack now deploys {desired}. Fix: pulumi config rm ora:appRollbackImage "
        "&& pulumi config rm ora:appRollbackFrom",
    )


def deployer(environ: Mapping[str, str]) -> str:
    """Who runs this update: ORA_DEPLOYER, else the GitHub actor of a CI run, else the
    local user."""
    if environ.get("ORA_DEPLOYER"):
        return environ["ORA_DEPLOYER"]
    if environ.get("GITHUB_ACTOR"):
        run = environ.get("GITHUB_RUN_ID", "?")
        return f"github:{environ['GITHUB_ACTOR']} (run {run})"
    return environ.get("USER") or environ.get("LOGNAME") or "unknown"


def record(
    previous: Sequence[Mapping] | None,
    image: str,
    rollback: bool,
    now: dt.datetime,
    who: str,
    keep: int = HISTORY_LENGTH,
) -> list[dict]:
    """The history after deploying `image`: unchanged when it is already the newest."""
    history = [dict(entry) for entry in previous or [] if isinstance(entry, Mapping)]
    if history and history[0].get("image") == image:
        return history[:keep]
    entry = {
        "image": image,
        "deployedAt": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "deployer": who,
        "rollback": rollback,
    }
    return [entry, *history][:keep]


def rollback_target(history: Sequence[Mapping], wanted: str | None = None) -> str:
    """The image `make rollback` goes to: `wanted` if the history has it, else the
    newest entry that differs from the running (first) one. ValueError says why not."""
    if not history:
        raise ValueError(f"the stack has no {OUTPUT} output yet: nothing to roll back to")
    current = history[0]["image"]
    images = [entry["image"] for entry in history]
    if wanted:
        if wanted not in images:
            raise ValueError(f"IMAGE = {wanted} is not in the history; `make history` lists it")
        if wanted == current:
            raise ValueError(f"IMAGE = {wanted} is the image already running")
        return wanted
    earlier = [image for image in images if image != current]
    if not earlier:
        raise ValueError(f"every entry of the history is the running image {current}")
    return earlier[0]


def history_table(history: Sequence[Mapping]) -> str:
    rows = [("", "DEPLOYED AT (UTC)", "BY", "IMAGE")]
    for index, entry in enumerate(history):
        mark = "*" if index == 0 else ""
        image = entry["image"] + ("  (rollback)" if entry.get("rollback") else "")
        rows.append((mark, entry["deployedAt"], entry["deployer"], image))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    )


def self_reference_name() -> str:
    # A DIY backend's organization is the literal "organization"; unit mocks give none.
    org = pulumi.get_organization() or "organization"
    return f"{org}/{pulumi.get_project()}/{pulumi.get_stack()}"


class LastDeploy:
    """This stack's outputs of its last completed update, read through one reference to
    the stack itself: made by the program once per run and handed to every reader (the
    deploy history, the swarm's node changes)."""

    def __init__(self) -> None:
        self._stack = pulumi.StackReference(self_reference_name())

    def outputs(self, *names: str) -> pulumi.Output:
        """These outputs (None for each the last deploy did not export)."""
        return pulumi.Output.all(*(self._stack.get_output(name) for name in names))

    def history(self, image: pulumi.Input[str], rollback: bool, who: str) -> pulumi.Output:
        """The appHistory output: the previous one plus `image`."""
        now = dt.datetime.now(dt.UTC)
        return pulumi.Output.all(self._stack.get_output(OUTPUT), image).apply(
            lambda args: record(args[0], args[1], rollback, now, who)
        )


def rollback_commands(
    stack: str, history: Sequence[Mapping], target: str, configured_from: str | None, pulumi: str
) -> list[list[str]]:
    """The pulumi calls of `make rollback`. appRollbackFrom is the image the stack deploys
    without any rollback: the running one, or, while a rollback runs, the one it replaced."""
    replaced = configured_from if history[0].get("rollback") and configured_from else None
    replaced = replaced or history[0]["image"]
    return [
        [pulumi, "config", "set", "ora:appRollbackImage", target, "--stack", stack],
        [pulumi, "config", "set", "ora:appRollbackFrom", replaced, "--stack", stack],
        [pulumi, "up", "--stack", stack, "--yes", "--skip-preview"],
    ]

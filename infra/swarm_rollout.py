"""After `pulumi up` of a swarm stack: did Swarm keep every rollout?

pulumi-docker's wait for a service (`converge_config`) ends as soon as each slot runs a
task, whatever the task's version: with start-first updates, about 7 s in. Global services
are not waited for at all (the provider's schema forbids `converge_config` there). Swarm
may roll an update back after that, when a new task fails within the update's monitor
window, and `pulumi up` has already reported success. Its state then holds the new spec
while the service runs the old one.

This is the check `make up` (`python -m infra.ops_cli rollout STACK`) and the swarm e2e run
after every apply: wait until no service of the stack is still updating, then fail,
naming each service whose update Swarm rolled back or paused. Pure: ops_cli does the I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

IN_PROGRESS = frozenset({"updating", "rollback_started"})
FAILED = frozenset({"rollback_completed", "rollback_paused", "paused"})
POLL_SECONDS = 2.0
DEFAULT_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Rollout:
    service: str
    state: str | None  # Swarm's UpdateStatus.State; None: never updated
    message: str = ""


def rollouts(inspected: Iterable[Mapping[str, Any]]) -> list[Rollout]:
    """`docker service inspect` output -> one Rollout per service, by name."""
    found = []
    for service in inspected:
        status = service.get("UpdateStatus") or {}
        found.append(
            Rollout(service["Spec"]["Name"], status.get("State"), status.get("Message", ""))
        )
    return sorted(found, key=lambda r: r.service)


def settled(found: Iterable[Rollout]) -> bool:
    return not any(r.state in IN_PROGRESS for r in found)


def failures(found: Iterable[Rollout]) -> list[Rollout]:
    return [r for r in found if r.state in FAILED]


def report(stack: str, failed: Iterable[Rollout]) -> str:
    lines = [
        f"{r.service}: Swarm's update is {r.state}: {r.message or '(no message)'}" for r in failed
    ]
    return "\n".join(
        [
            f"stack {stack}: `pulumi up` reported success, but Swarm did not keep every rollout:",
            *lines,
            "Pulumi's state holds the new spec; the service runs the previous one. "
            "Fix: read `docker service ps --no-trunc SERVICE` for the failed tasks, fix the "
            f"cause, then `make up STACK={stack} ARGS=--refresh` (the refresh sees the "
            "difference and applies the spec again), or `make rollback STACK="
            f"{stack}` to go back on purpose",
        ]
    )

"""After `pulumi up` of a swarm stack: did Swarm keep every rollout?

pulumi-docker's wait for a service (`converge_config`) ends as soon as each slot runs a
task, whatever the task's version: with start-first updates, about 7 s in. Global services
are not waited for at all (the provider's schema forbids `converge_config` there). Swarm
may roll an update back after that, when a new task fails within the update's monitor
window, and `pulumi up` has already reported success. Its state then holds the new spec
while the service runs the old one.

This is the check `make up` (`python -m infra.ops rollout STACK`) and the swarm e2e run
after every apply: wait until no service of the stack is still updating and each runs the
tasks it wants (`docker service ls`' REPLICAS, global services included), then fail,
naming each service whose update Swarm rolled back or paused. Pure: ops_cli does the I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

IN_PROGRESS = frozenset({"updating", "rollback_started"})
FAILED = frozenset({"rollback_completed", "rollback_paused", "paused"})
POLL_SECONDS = 2.0
DEFAULT_TIMEOUT_SECONDS = 600


_REPLICAS = re.compile(r"^(\d+)/(\d+)")


@dataclass(frozen=True)
class Rollout:
    service: str
    state: str | None  # Swarm's UpdateStatus.State; None: never updated
    message: str = ""
    running: int = 0  # tasks running now
    desired: int = 0  # tasks the service wants (global: one per eligible node)


def replica_counts(text: str) -> tuple[int, int]:
    """`docker service ls`' REPLICAS ("2/3", "1/1 (max 2 per node)") -> (running, desired)."""
    found = _REPLICAS.match(text.strip())
    if not found:
        raise ValueError(f"not a REPLICAS column of docker service ls: {text!r}")
    return int(found.group(1)), int(found.group(2))


def rollouts(inspected: Iterable[Mapping[str, Any]], replicas: Mapping[str, str]) -> list[Rollout]:
    """`docker service inspect` output and each service's REPLICAS -> one Rollout each."""
    found = []
    for service in inspected:
        name = service["Spec"]["Name"]
        status = service.get("UpdateStatus") or {}
        running, desired = replica_counts(replicas[name])
        found.append(
            Rollout(name, status.get("State"), status.get("Message", ""), running, desired)
        )
    return sorted(found, key=lambda r: r.service)


def settled(found: Iterable[Rollout]) -> bool:
    """Nothing left to wait for: every service failed its update for good, or is done
    updating and runs every task it wants."""
    return all(
        r.state in FAILED or (r.state not in IN_PROGRESS and r.running == r.desired) for r in found
    )


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

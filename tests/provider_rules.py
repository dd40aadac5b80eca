"""What the Pulumi engine and pulumi-docker do on replace and delete, as data and pure
functions: the unit suite states the program's invariants with them, and the e2e's
stand-in for the engine (tests/e2e/realize.py) acts by them.

Each rule was read in the source, not guessed:
- pulumi-docker `provider/resources.go`: `docker_container` is the only resource with
  `DeleteBeforeReplace: true`; the engine follows the provider unless the program sets the
  option (`step_generator.go`: `if goal.DeleteBeforeReplace != nil`).
- the engine's `calculateDependentReplacements`: before a delete-before-replace, every
  dependent whose *property* depends on a resource being replaced, and whose provider diff
  then says "replace", is deleted first (reverse dependency order); a `depends_on` edge alone
  never cascades.
- kreuzwerker/terraform-provider-docker `resource_docker_container.go`: the fields below
  are the only ones without `ForceNew`; any other changed field replaces the container.
- its delete: a container without `attach` is stopped with `destroy_grace_seconds`
  (0 when unset), then removed with force; an `attach` one-shot is removed with force.
- its create: an upload with none of `content`, `content_base64`, `source` is refused.
- its service update: with `converge_config`, done once `UpdateStatus` is "completed" or
  every slot has a running task (first look after 7 s, then every 5 s); `mode.global` and
  `converge_config` conflict in the schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CONTAINER = "docker:index/container:Container"
SERVICE = "docker:index/service:Service"

# pulumi-docker's per-resource default (provider/resources.go).
PROVIDER_DELETE_BEFORE_REPLACE = frozenset({CONTAINER})

# docker_container's fields without ForceNew, by their Pulumi names.
CONTAINER_UPDATABLE = frozenset(
    {
        "rm",
        "start",
        "wait",
        "waitTimeout",
        "attach",
        "logs",
        "mustRun",
        "exitCode",
        "containerLogs",
        "restart",
        "maxRetryCount",
        "removeVolumes",
        "tmpfs",
        "bridge",
        "networkDatas",
        "deviceReadBps",
        "deviceReadIops",
        "deviceWriteBps",
        "deviceWriteIops",
        "destroyGraceSeconds",
        "memory",
        "memoryReservation",
        "memorySwap",
        "cpuShares",
        "cpuSet",
        "healthcheck",
        "containerReadRefreshTimeoutMilliseconds",
        "init",
        "cpuPeriod",
        "cpuQuota",
    }
)

# The provider's service convergence: first look, then the poll interval (seconds).
CONVERGE_FIRST_LOOK = 7.0
CONVERGE_POLL = 5.0


def deletes_before_replace(type_token: str, option: bool | None) -> bool:
    """The engine's choice: the program's option when it set one, else the provider's."""
    if option is not None:
        return option
    return type_token in PROVIDER_DELETE_BEFORE_REPLACE


def replacing_keys(type_token: str, keys: Iterable[str]) -> set[str]:
    """Of the changed input `keys`, those that make the provider replace the resource."""
    if type_token == CONTAINER:
        return {k for k in keys if k not in CONTAINER_UPDATABLE}
    return set(keys)


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    return {k for k in set(old) | set(new) if old.get(k) != new.get(k)}


def delete_grace_seconds(inputs: Mapping[str, Any]) -> int | None:
    """How the provider stops a container before removing it: None = not stopped (an
    `attach` one-shot), else the grace in seconds (0 unless `destroyGraceSeconds`)."""
    if inputs.get("attach"):
        return None
    return int(inputs.get("destroyGraceSeconds") or 0)


def check(type_token: str, inputs: Mapping[str, Any]) -> list[str]:
    """The provider's checks of a resource's inputs at preview (the schema's
    ConflictsWith), as the messages `pulumi preview` would fail with."""
    problems = []
    is_global = (inputs.get("mode") or {}).get("global")
    if type_token == SERVICE and is_global and inputs.get("convergeConfig"):
        problems.append('"converge_config": conflicts with mode.0.global')
    return problems


def empty_uploads(inputs: Mapping[str, Any]) -> list[str]:
    """The uploads the provider refuses at create: the files with no content at all."""
    return [
        str(u.get("file"))
        for u in inputs.get("uploads") or []
        if not (u.get("content") or u.get("contentBase64") or u.get("source"))
    ]


def cascade(
    root: str,
    dependents: Mapping[str, Mapping[str, Iterable[str]]],
    types: Mapping[str, str],
) -> list[str]:
    """The engine's dependent replacements of a delete-before-replace of `root`: the
    resources (keys of `dependents`, in registration order) deleted before it.

    `dependents[key]` maps each input of a resource to the keys its value came from (its
    property dependencies); `types[key]` is its type token. A dependent is replaced when an
    input that depends on something in the replace set would replace it (the provider's
    diff with that input unknown): for a container, any field with ForceNew."""
    replace = {root}
    found: list[str] = []
    for key, by_input in dependents.items():
        if key == root:
            continue
        touched = {k for k, deps in by_input.items() if replace & set(deps)}
        if touched and replacing_keys(types[key], touched):
            replace.add(key)
            found.append(key)
    return found


# The task states in the provider's order (its `numberedStates`).
TASK_STATES = (
    "new",
    "allocated",
    "pending",
    "assigned",
    "accepted",
    "preparing",
    "ready",
    "starting",
    "running",
    "complete",
    "shutdown",
    "failed",
    "rejected",
)
UPDATE_FAILED = ("rollback_completed", "paused", "rollback_paused")


def _rank(state: str) -> int:
    return TASK_STATES.index(state) + 1 if state in TASK_STATES else 0


def running_slots(tasks: Iterable[Mapping[str, Any]], active_nodes: set[str]) -> int:
    """The provider's count (`replicatedConsoleLogUpdater`): one task per slot, the one
    with the lowest desired state, then the lowest observed state; tasks on a node that is
    down are left out; a slot counts when its task is wanted and running. Any version of
    the spec counts: that is why a rollback Swarm starts later goes unseen."""
    by_slot: dict[int, Mapping[str, Any]] = {}
    for task in tasks:
        desired, observed = _rank(task["DesiredState"]), _rank(task["Status"]["State"])
        if not desired or not observed:
            continue
        held = by_slot.get(task.get("Slot", 0))
        if held is not None:
            held_desired = _rank(held["DesiredState"])
            if held_desired < desired:
                continue
            if held_desired == desired and _rank(held["Status"]["State"]) <= observed:
                continue
        if task.get("NodeID") and task["NodeID"] not in active_nodes:
            continue
        by_slot[task.get("Slot", 0)] = task
    return sum(
        1
        for task in by_slot.values()
        if _rank(task["DesiredState"]) <= _rank("running") and task["Status"]["State"] == "running"
    )


def converged(update_state: str | None, replicas: int, running: int, message: str = "") -> bool:
    """One look of the provider's update wait: True when done; raises on a failed update."""
    if update_state == "completed":
        return True
    if update_state in UPDATE_FAILED:
        raise RuntimeError(f"service update {update_state}: {message}")
    if running == replicas and update_state == "rollback_started":
        raise RuntimeError(f"service rollback completed: {message}")
    return running == replicas

"""Operator commands (make status, logs, health, maintenance, backup-check): pure builders.

Every function here returns a command (an argument list), an environment, or text built
from what a command printed; nothing runs. infra/ops/cli.py runs them. The stack is found
by its labels (org.ora.stack, org.ora.service), never by container names, and reached
through DOCKER_HOST=ssh://… when its config names a remote host.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from infra.config import StackConfig
from infra.topology import ROLE_LABEL, SERVICE_LABEL, STACK_LABEL

BACKUP_COMMAND = (
    "/usr/local/sbin/ora-backup"  # infra/bootstrap/script.py installs scripts/backup.sh here
)
MODES = {"on": "true", "off": "false"}
# scripts/backup.sh's defaults: restic check must read the repository backup.sh writes.
BACKUP_DEFAULTS = {
    "RESTIC_REPOSITORY": "/opt/ora/backups/restic",
    "RESTIC_PASSWORD_FILE": "/opt/ora/.restic-password",
}


# -- where the stack runs ---------------------------------------------------------------
def docker_env(cfg: StackConfig) -> dict[str, str]:
    """Extra environment for the docker CLI: DOCKER_HOST for a remote stack, else nothing."""
    return {"DOCKER_HOST": cfg.access.docker_host} if cfg.access.docker_host else {}


def testinfra_host(cfg: StackConfig) -> str:
    if not cfg.access.is_remote:
        return "local://"
    return f"ssh://{cfg.access.ssh_user}@{cfg.access.host}:{cfg.access.ssh_port}"


# -- docker commands ----------------------------------------------------------------------
def _label_filters(stack: str, service: str | None) -> list[str]:
    filters = ["--filter", f"label={STACK_LABEL}={stack}"]
    if service:
        filters += ["--filter", f"label={SERVICE_LABEL}={service}"]
    return filters


def list_containers(stack: str, service: str | None = None) -> list[str]:
    return ["docker", "ps", "--all", "--quiet", "--no-trunc", *_label_filters(stack, service)]


def services_only(inspected: list[dict]) -> list[dict]:
    """The stack's services: without the one-shot installers, which exit by design."""
    return [c for c in inspected if (c["Config"]["Labels"] or {}).get(ROLE_LABEL) != "oneshot"]


def inspect(ids: list[str]) -> list[str]:
    return ["docker", "inspect", *ids]


def _log_options(since: str | None, tail: str | None) -> list[str]:
    return [*(["--since", since] if since else []), *(["--tail", tail] if tail else [])]


def logs(container: str, since: str | None = None, tail: str | None = None) -> list[str]:
    return ["docker", "logs", "--timestamps", *_log_options(since, tail), container]


def list_services(stack: str, service: str | None = None) -> list[str]:
    """A swarm stack's services by name (a manager answers for every node)."""
    return ["docker", "service", "ls", "--format", "{{.Name}}", *_label_filters(stack, service)]


def service_logs(service: str, since: str | None = None, tail: str | None = None) -> list[str]:
    """The logs of every task of a swarm service, on whichever node it runs (`--tail` counts
    per task, as `docker logs --tail` does per container)."""
    command = ["docker", "service", "logs", "--timestamps", "--no-task-ids"]
    return [*command, *_log_options(since, tail), service]


# -- status -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServiceStatus:
    name: str
    service: str
    state: str
    health: str
    image: str
    uptime: str
    restarts: int


def _parse_time(text: str) -> dt.datetime:
    """Docker's RFC 3339 with nanoseconds -> an aware datetime (to the microsecond)."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not match:
        raise ValueError(f"not a docker timestamp: {text!r}")
    fraction = (match[2] or ".0")[:7]
    zone = "+00:00" if match[3] == "Z" else match[3]
    return dt.datetime.fromisoformat(match[1] + fraction + zone)


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{seconds}s"


def service_status(inspected: dict, now: dt.datetime) -> ServiceStatus:
    state = inspected["State"]
    running = state.get("Running", False)
    up = _duration((now - _parse_time(state["StartedAt"])).total_seconds()) if running else "-"
    return ServiceStatus(
        name=inspected["Name"].lstrip("/"),
        service=inspected["Config"]["Labels"].get(SERVICE_LABEL, "?"),
        state=state["Status"],
        health=state.get("Health", {}).get("Status", "none"),
        image=inspected["Config"]["Image"],
        uptime=up,
        restarts=inspected.get("RestartCount", 0),
    )


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(line.rstrip() for line in lines)


def status_table(statuses: list[ServiceStatus]) -> str:
    header = ("SERVICE", "CONTAINER", "STATE", "HEALTH", "UPTIME", "RESTARTS", "IMAGE")
    rows = [
        (s.service, s.name, s.state, s.health, s.uptime, str(s.restarts), s.image)
        for s in sorted(statuses, key=lambda s: (s.service, s.name))
    ]
    return table([header, *rows])


def days_left(not_after: dt.datetime, now: dt.datetime) -> int:
    return (not_after - now).days


# -- logs ---------------------------------------------------------------------------------
def merge_logs(outputs: dict[str, str]) -> list[str]:
    """`docker logs --timestamps` of several containers -> one list in time order, each line
    prefixed with its container. Lines without a timestamp stay after the line they follow."""
    stamped: list[tuple[dt.datetime, str, int, str]] = []
    for name, text in outputs.items():
        last = dt.datetime.min.replace(tzinfo=dt.UTC)
        for index, line in enumerate(text.splitlines()):
            stamp, _, rest = line.partition(" ")
            try:
                last = _parse_time(stamp)
            except ValueError:
                rest = line
            stamped.append(
                (last, name, index, f"{name}  {last.isoformat(timespec='microseconds')}  {rest}")
            )
    return [entry[3] for entry in sorted(stamped)]


_TASK_LINE = re.compile(r"(\S+) (\S+?@\S+?) *\| ?(.*)")


def split_service_logs(service: str, text: str) -> dict[str, str]:
    """`docker service logs --timestamps --no-task-ids` ("TIME SERVICE.SLOT@NODE    | line")
    -> `docker logs --timestamps` text per task ("SERVICE.SLOT@NODE": "TIME line"), for
    merge_logs. A line in neither form (docker's own message) stays under the service."""
    tasks: dict[str, list[str]] = {}
    for line in text.splitlines():
        found = _TASK_LINE.fullmatch(line)
        task, line = (found[2], f"{found[1]} {found[3]}") if found else (service, line)
        tasks.setdefault(task, []).append(line)
    return {task: "\n".join(lines) for task, lines in tasks.items()}


# -- maintenance --------------------------------------------------------------------------
def maintenance_commands(stack: str, mode: str, pulumi: str = "pulumi") -> list[list[str]]:
    if mode not in MODES:
        raise ValueError(f"MODE = {mode!r}: is not on or off. Fix: make maintenance MODE=on")
    return [
        [pulumi, "config", "set", "ora:maintenance", MODES[mode], "--stack", stack],
        [pulumi, "up", "--stack", stack, "--yes", "--skip-preview"],
    ]


# -- backups ------------------------------------------------------------------------------
def backup_commands(cfg: StackConfig, script: str) -> tuple[list[str], list[str]]:
    """(list, check): backup.sh list and restic check, on the Docker host (ssh) or here."""
    if cfg.access.is_remote:
        ssh = ["ssh", "-p", str(cfg.access.ssh_port), f"{cfg.access.ssh_user}@{cfg.access.host}"]
        env = ["sudo", "env", f"ORA_STACK={cfg.stack}"]
        restic = [f"{k}={v}" for k, v in BACKUP_DEFAULTS.items()]
        return (
            [*ssh, *env, BACKUP_COMMAND, "list"],
            [*ssh, *env, *restic, "restic", "check", "--no-lock"],
        )
    return [script, "list"], ["restic", "check", "--no-lock"]


def backup_env(stack: str, environ: dict[str, str]) -> dict[str, str]:
    """The environment of a local backup check: the operator's values over backup.sh's."""
    return {**BACKUP_DEFAULTS, **environ, "ORA_STACK": stack}


@dataclass(frozen=True)
class Backup:
    name: str
    time: dt.datetime
    size: str


def parse_backup_list(text: str) -> list[Backup]:
    """backup.sh list's table (NAME  TIME (UTC)  SIZE  SNAPSHOT) -> backups, oldest first."""
    backups = []
    for line in text.splitlines()[1:]:
        match = re.match(r"(\S+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+(.+?)\s+(\S+)$", line)
        if match:
            when = dt.datetime.fromisoformat(match[2]).replace(tzinfo=dt.UTC)
            backups.append(Backup(match[1], when, match[3]))
    return sorted(backups, key=lambda b: b.time)


def backup_is_fresh(backups: list[Backup], now: dt.datetime, max_age_hours: int) -> bool:
    return bool(backups) and now - backups[-1].time <= dt.timedelta(hours=max_age_hours)


def backup_summary(backups: list[Backup], now: dt.datetime, max_age_hours: int) -> str:
    if not backups:
        return "backups: NONE in the repository"
    newest = backups[-1]
    age = now - newest.time
    fresh = backup_is_fresh(backups, now, max_age_hours)
    verdict = "ok" if fresh else f"OLDER than {max_age_hours}h"
    return (
        f"newest backup: {newest.name}, {_duration(age.total_seconds())} old ({verdict}), "
        f"{newest.size}; {len(backups)} backups kept"
    )


def decode_inspect(text: str) -> list[dict]:
    return json.loads(text) if text.strip() else []


def health_markers(cfg: StackConfig) -> str:
    """The read-only subset of tests/infra; the prod host checks only on a bootstrapped host."""
    if cfg.access.is_remote and cfg.access.bootstrap:
        return "not destructive"
    return "not destructive and not prod"

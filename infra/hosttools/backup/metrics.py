"""ora_backup.prom for node-exporter's textfile collector: the last run's status and
duration, and the newest successful backup's time and sizes (kept across failed runs)."""

from __future__ import annotations

import os
import time

from .names import METRIC_FILE
from .run import Run

FILE_MODE = 0o644  # node-exporter reads it unprivileged
HELP = {
    "ora_backup_last_success_timestamp_seconds": "Unix time of the newest successful backup.",
    "ora_backup_last_size_bytes": "Bytes of the newest successful backup before deduplication.",
    "ora_backup_last_added_bytes": "Bytes the newest successful backup added to the repository.",
    "ora_backup_last_duration_seconds": "Seconds the last backup run took.",
    "ora_backup_last_status": "1 if the last backup run succeeded, else 0.",
}


def previous_values(text: str) -> dict[str, str]:
    """`metric{labels}` -> value of an earlier file."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = value
    return values


def render(stack: str, status: str, now: int, size: str, added: str, duration: int, previous):
    """The file's text; a failed run (status "0") keeps the newest success's values."""
    label = f'{{stack="{stack}"}}'

    def kept(metric: str, value: object) -> str:
        return str(value) if status == "1" else previous.get(f"{metric}{label}", "0")

    values = {
        "ora_backup_last_success_timestamp_seconds": kept(
            "ora_backup_last_success_timestamp_seconds", now
        ),
        "ora_backup_last_size_bytes": kept("ora_backup_last_size_bytes", size),
        "ora_backup_last_added_bytes": kept("ora_backup_last_added_bytes", added),
        "ora_backup_last_duration_seconds": str(duration),
        "ora_backup_last_status": status,
    }
    return "".join(
        f"# HELP {k} {HELP[k]}\n# TYPE {k} gauge\n{k}{label} {v}\n" for k, v in values.items()
    )


def write(path: str, stack: str, status: str, now: int, size: str, added: str, duration: int):
    """Replaces `path` whole (a temporary file, then a rename): never half a file."""
    previous = {}
    if os.path.exists(path):
        with open(path) as handle:
            previous = previous_values(handle.read())
    text = render(stack, status, now, size, added, duration, previous)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as out:
        out.write(text)
    os.chmod(temporary, FILE_MODE)
    os.replace(temporary, path)


def record(run: Run, status: str, size: str = "0", added: str = "0") -> None:
    """Writes the metric of this run; a metric that cannot be written is only a warning."""
    now = int(time.time())
    directory = run.settings.textfile_dir
    umask = os.umask(0o022)  # world-readable, whatever the run's umask
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        run.say(f"warning: cannot create {directory} for the backup metric")
        return
    finally:
        os.umask(umask)
    path = os.path.join(directory, METRIC_FILE)
    try:
        write(path, run.settings.stack, status, now, size, added, now - run.clock.started_at)
    except (OSError, ValueError):
        run.say(f"warning: cannot write {directory}/{METRIC_FILE}")

#!/usr/bin/python3
"""ora-container-metrics: each container's restarts, memory and CPU for node-exporter.

Installed as /usr/local/sbin/ora-container-metrics and run by ora-container-metrics.service.
Every --every seconds it asks the Docker engine (its unix socket, the Engine API) about the
stack's containers (label org.ora.stack) and writes ora_containers.prom into node-exporter's
textfile directory: a temporary file in that directory, then a rename, so node-exporter
never reads half a file. The figures are the engine's own: RestartCount (restarts by the
restart policy since the container was created, so a deploy's new container starts at 0),
and the cgroup's memory and CPU as `docker stats` reports them.

The standard library only: it runs under the host's own python3.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import socket
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SOCKET = "/var/run/docker.sock"
TEXTFILE_DIR = Path("/var/lib/prometheus/node-exporter")
FILE_NAME = "ora_containers.prom"
STACK_LABEL = "org.ora.stack"
SERVICE_LABEL = "org.ora.service"
LIVE_STATES = ("running", "restarting", "paused")  # not one-shots that have exited
PARALLEL = 8  # stats requests in flight
# name -> (type, help); the rules and the dashboard use these (infra/monitoring/rules.py).
METRICS = {
    "ora_container_restarts_total": (
        "counter",
        "Restarts by the restart policy since the container was created (RestartCount).",
    ),
    "ora_container_start_time_seconds": ("gauge", "When the container last started."),
    "ora_container_memory_working_set_bytes": (
        "gauge",
        "Memory in use less inactive page cache, as docker stats counts it.",
    ),
    "ora_container_memory_limit_bytes": ("gauge", "The container's memory limit."),
    "ora_container_cpu_usage_seconds_total": ("counter", "CPU time used by the container."),
    "ora_container_cpu_limit_cores": ("gauge", "The container's CPU limit (NanoCpus)."),
}


@dataclass(frozen=True)
class Container:
    name: str
    service: str
    restarts: int
    started: float | None  # unix seconds
    memory_bytes: int | None  # working set; None when the engine has no figure (restarting)
    memory_limit: int  # bytes; 0 = none
    cpu_seconds: float | None
    cpu_limit: float  # cores; 0 = none


def instant(stamp: str) -> float | None:
    """Docker's RFC 3339 time (0 to 9 fraction digits, Z) as unix seconds; None for its
    zero time (a container that never started)."""
    if not stamp or stamp.startswith("0001-"):
        return None
    micro = re.sub(r"\.(\d+)", lambda m: "." + (m[1] + "000000")[:6], stamp)
    return datetime.fromisoformat(micro.replace("Z", "+00:00")).timestamp()


def working_set(memory: dict) -> int | None:
    """usage less inactive_file (cgroup v2) or total_inactive_file (v1), like docker stats."""
    if "usage" not in memory:
        return None
    detail = memory.get("stats") or {}
    inactive = detail.get("inactive_file", detail.get("total_inactive_file", 0))
    return max(0, memory["usage"] - inactive)


def from_engine(inspect: dict, stats: dict | None) -> Container:
    """One container from `GET /containers/ID/json` and `.../stats` (None: not running)."""
    host, stats = inspect.get("HostConfig") or {}, stats or {}
    cpu = (stats.get("cpu_stats") or {}).get("cpu_usage") or {}
    return Container(
        name=inspect["Name"].lstrip("/"),
        service=(inspect["Config"].get("Labels") or {}).get(SERVICE_LABEL, ""),
        restarts=int(inspect.get("RestartCount", 0)),
        started=instant(inspect["State"].get("StartedAt", "")),
        memory_bytes=working_set(stats.get("memory_stats") or {}),
        memory_limit=int(host.get("Memory") or 0),
        cpu_seconds=cpu["total_usage"] / 1e9 if "total_usage" in cpu else None,
        cpu_limit=(host.get("NanoCpus") or 0) / 1e9,
    )


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(containers: list[Container]) -> str:
    """The exposition text: every metric's HELP and TYPE once, a sample per container that
    has the figure (limits only where one is set)."""
    values: dict[str, list[tuple[Container, float]]] = {name: [] for name in METRICS}
    for c in sorted(containers, key=lambda c: c.name):
        found = {
            "ora_container_restarts_total": c.restarts,
            "ora_container_start_time_seconds": c.started,
            "ora_container_memory_working_set_bytes": c.memory_bytes,
            "ora_container_memory_limit_bytes": c.memory_limit or None,
            "ora_container_cpu_usage_seconds_total": c.cpu_seconds,
            "ora_container_cpu_limit_cores": c.cpu_limit or None,
        }
        for metric, value in found.items():
            if value is not None:
                values[metric].append((c, value))
    lines = []
    for metric, (kind, help_text) in METRICS.items():
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} {kind}"]
        for c, value in values[metric]:
            labels = f'name="{_label(c.name)}",service="{_label(c.service)}"'
            lines.append(f"{metric}{{{labels}}} {value:.15g}")
    return "\n".join(lines) + "\n"


def write_atomically(directory: Path, name: str, text: str) -> Path:
    """A temporary file in `directory` (node-exporter reads only *.prom), then a rename:
    a reader sees the old file or the new one, never half of one. World-readable, for
    node-exporter's unprivileged user."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


class _Engine(http.client.HTTPConnection):
    """HTTP to the Docker engine over its unix socket."""

    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)

    def get(self, path: str):
        self.request("GET", path)
        answer = self.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"docker engine: GET {path}: {answer.status} {body[:200]!r}")
        return json.loads(body)


def _one(socket_path: str, timeout: float, container_id: str) -> Container:
    engine = _Engine(socket_path, timeout)
    try:
        inspect = engine.get(f"/containers/{container_id}/json")
        state = inspect["State"]
        running = state.get("Running") and not state.get("Restarting")
        path = f"/containers/{container_id}/stats?stream=0&one-shot=1"
        return from_engine(inspect, engine.get(path) if running else None)
    finally:
        engine.close()


def gather(socket_path: str = SOCKET, timeout: float = 10) -> list[Container]:
    """The stack's live containers; the engine's stats take a while each, so a few at once."""
    engine = _Engine(socket_path, timeout)
    try:
        wanted = urllib.parse.quote(json.dumps({"label": [STACK_LABEL]}))
        listed = engine.get(f"/containers/json?all=1&filters={wanted}")
    finally:
        engine.close()
    ids = [c["Id"] for c in listed if c.get("State") in LIVE_STATES]
    with concurrent.futures.ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(lambda i: _one(socket_path, timeout, i), ids))


def once(directory: Path, socket_path: str) -> int:
    try:
        containers = gather(socket_path)
    except (OSError, RuntimeError, ValueError) as error:
        # The old file stays: node_textfile_mtime_seconds shows how stale it is.
        print(f"ora-container-metrics: {error}", file=sys.stderr, flush=True)
        return 1
    write_atomically(directory, FILE_NAME, render(containers))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ora-container-metrics", description=__doc__)
    parser.add_argument("--dir", type=Path, default=TEXTFILE_DIR, help="textfile directory")
    parser.add_argument("--socket", default=SOCKET, help="the Docker engine's unix socket")
    parser.add_argument("--every", type=float, default=0, help="seconds between runs; 0: once")
    args = parser.parse_args(argv)
    if args.every < 0:
        parser.error(f"--every = {args.every}: must be 0 (once) or more. Fix: --every 15")
    if not args.every:
        return once(args.dir, args.socket)
    while True:
        started = time.monotonic()
        once(args.dir, args.socket)
        time.sleep(max(0.0, args.every - (time.monotonic() - started)))


if __name__ == "__main__":
    sys.exit(main())

"""Monitoring's memory after 10 minutes of scraping (a benchmark, `make bench-monitoring`).

The e2e stack is applied, then applied again with the production timing
(ora:monitoringTiming standard: 15 s scrapes and evaluations), which starts every monitoring
container afresh; under a light load at the edge (ORA_BENCH_RATE requests/s to /healthz),
it prints each monitoring container's memory against its limit every ORA_BENCH_STEP
minutes until ORA_BENCH_MINUTES (10), with the host's ora-container-metrics writer, and the
monitoring total as a fraction of the whole stack's memory (the issue's goal: <= 25 %).
Collected only when named, through the e2e lock: no assertion on the figures.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from infra.bootstrap import metrics_units as container_metrics_units
from tests.e2e.conftest import STACK
from tests.e2e.load import Load
from tests.e2e.realize import wait_healthy
from tests.e2e.test_monitoring import _memory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
MINUTES = float(os.environ.get("ORA_BENCH_MINUTES", "10"))
STEP = float(os.environ.get("ORA_BENCH_STEP", "2"))
RATE = float(os.environ.get("ORA_BENCH_RATE", "5"))
GOAL_PERCENT = 25


def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def _figures(deployment, writer: subprocess.Popen) -> tuple[list[tuple], int, int]:
    client, monitoring = deployment.client, deployment.outputs["monitoring"]
    rows = []
    for service, name in sorted(monitoring.items()):
        used, limit = _memory(client.containers.get(name))
        rows.append((service, used, limit))
    rows.append(("ora-container-metrics", _rss(writer.pid) * 1024, 64 * 2**20))
    total = sum(used for _, used, _ in rows)
    stack = sum(
        _memory(c)[0] for c in client.containers.list(filters={"label": f"org.ora.stack={STACK}"})
    )
    return rows, total, stack + rows[-1][1]


def test_monitoring_memory_after_ten_minutes_of_scraping(deployment):
    deployment.overrides["monitoringTiming"] = "standard"
    seconds = deployment.apply(deployment.project)
    print(f"\n[bench] re-applied with the standard timing in {seconds:.0f} s")
    for name in deployment.containers:
        wait_healthy(deployment.client, name, 120)
    directory = deployment.overrides["backupTextfileDir"]
    script = str(container_metrics_units.SCRIPT)
    interval = str(container_metrics_units.INTERVAL_SECONDS)
    writer = subprocess.Popen(["python3", script, "--dir", directory, "--every", interval])
    url = deployment.outputs["url"].replace("localhost", "127.0.0.1") + "/healthz"
    started, peak = time.monotonic(), {}
    try:
        with Load(url, rate=RATE, threads=2, headers={"Host": "localhost"}) as load:
            for step in range(1, int(MINUTES / STEP) + 1):
                time.sleep(max(0.0, started + step * STEP * 60 - time.monotonic()))
                rows, total, stack = _figures(deployment, writer)
                for service, used, _ in rows:
                    peak[service] = max(peak.get(service, 0), used)
                print(
                    f"[bench] {step * STEP:4.0f} min: monitoring {total / 2**20:6.1f} MiB of the "
                    f"stack's {stack / 2**20:6.1f} MiB ({100 * total / stack:4.1f} %)",
                    flush=True,
                )
    finally:
        writer.terminate()
        writer.wait(10)
    print(f"[bench] after {MINUTES:.0f} min ({load.result.sent} requests at the edge):")
    for service, used, limit in rows:
        print(
            f"[bench] {service:22} {used / 2**20:6.1f} MiB of {limit / 2**20:4.0f} MiB "
            f"({100 * used / limit:4.1f} %), peak {peak[service] / 2**20:6.1f} MiB"
        )
    print(
        f"[bench] total {total / 2**20:.1f} MiB of the stack's {stack / 2**20:.1f} MiB: "
        f"{100 * total / stack:.1f} % (goal <= {GOAL_PERCENT} %)"
    )

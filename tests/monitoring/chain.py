"""Starts Debian's mtail, prometheus and alertmanager on ports from tests/ports.py, each with the
files the renderer produces for a stack. The only overrides are the runtime's: local
addresses, file paths, and 1-second timings (`FAST`)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from infra.monitoring.runtime import Timing
from tests.monitoring import rendered
from tests.ports import allocate

FAST = Timing(
    scrape_interval="1s",
    evaluation_interval="1s",
    window="15s",
    fire_for="2s",
    down_for="2s",
    slow_for="2s",
    group_wait="1s",
    group_interval="2s",
    repeat_interval="1h",
)


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):  # noqa: S310
            return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer:\n{log.read_text()[-3000:]}")


@dataclasses.dataclass
class Chain:
    directory: Path
    access_log: Path
    prometheus: str  # base URL
    alertmanager: str
    processes: list[subprocess.Popen]

    def query(self, expr: str) -> list[dict]:
        url = f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - local test URL
            return json.load(answer)["data"]["result"]

    def wait_all_up(self, count: int, timeout: float = 30) -> None:
        """Prometheus applies discovered targets every 5 s: wait until it scrapes them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.query("up == 1")) == count:
                return
            time.sleep(0.2)
        raise TimeoutError(f"not every target is up: {self.query('up')}")

    def diagnose(self) -> str:
        """The rules' state and the daemons' logs, for a failing assertion."""
        with urllib.request.urlopen(f"{self.prometheus}/api/v1/rules", timeout=5) as answer:  # noqa: S310
            groups = json.load(answer)["data"]["groups"]
        states = [
            (r["name"], r.get("state"), r.get("lastError")) for g in groups for r in g["rules"]
        ]
        logs = "".join(
            f"--- {name}\n{(self.directory / f'{name}.log').read_text()[-2000:]}\n"
            for name in ("prometheus", "alertmanager", "mtail")
        )
        with urllib.request.urlopen(f"{self.alertmanager}/api/v2/alerts", timeout=5) as answer:  # noqa: S310
            alerts = answer.read().decode()[:1500]
        return f"rules: {states}\nalertmanager alerts: {alerts}\n{logs}"

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def start(
    stack_config,
    directory: Path,
    smtp_ca_file: str,
    logs: list[str],
    scraped: dict[str, str] | None = None,
) -> Chain:
    """`scraped`: more scrape targets (job -> host:port) that are already running."""
    ports = {name: allocate() for name in ("prometheus", "alertmanager", "mtail")}
    access_log = directory / "logs" / "access.log"
    access_log.parent.mkdir(exist_ok=True)
    access_log.touch()
    targets = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    targets.update(scraped or {})
    runtime = rendered.local_runtime(
        directory,
        targets=targets,
        app_dns=None,
        smtp_ca_file=smtp_ca_file,
        access_log=str(access_log),
        timing=FAST,
    )
    rendered.write(stack_config, directory, runtime)
    commands = {
        "mtail": [
            "mtail",
            "--progs",
            str(directory / "mtail"),
            "--address",
            "127.0.0.1",
            "--port",
            str(ports["mtail"]),
            "--logtostderr",
            "--poll_interval",
            "250ms",
            *(arg for log in [str(access_log), *logs] for arg in ("--logs", log)),
        ],
        "alertmanager": [
            "prometheus-alertmanager",
            f"--config.file={directory}/alertmanager.yml",
            f"--storage.path={directory}/am",
            f"--web.listen-address={targets['alertmanager']}",
            "--cluster.listen-address=",
        ],
        "prometheus": [
            "prometheus",
            f"--config.file={directory}/prometheus.yml",
            f"--storage.tsdb.path={directory}/tsdb",
            f"--web.listen-address={targets['prometheus']}",
        ],
    }
    processes = []
    try:
        for name, argv in commands.items():
            log = directory / f"{name}.log"
            with log.open("w") as out:  # the child keeps its own descriptor
                processes.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT))
            health = "/-/ready" if name != "mtail" else "/metrics"
            wait_http(f"http://{targets[name]}{health}", processes[-1], log)
    except BaseException:
        for process in processes:
            process.kill()
        raise
    running = Chain(
        directory,
        access_log,
        f"http://{targets['prometheus']}",
        f"http://{targets['alertmanager']}",
        processes,
    )
    running.wait_all_up(len(targets))
    return running

"""Monitoring on the real dev stack (Debian stand-ins, ora:monitoringTiming test): every
target up, an induced burst of 502s at the edge -> the error-rate email at a real SMTP relay
(STARTTLS + AUTH) and its resolved notice, the service's log files (rotation, the byte
counter across it) and a burst of scheduler lines -> the log-growth alert and its email,
every dashboard panel's query, each monitoring container's memory against its limit, and
the alert report (`python -m infra.monitoring.report dev --out DIR`) of the alerts these
tests fired.
Run: pytest tests/e2e -m e2e -s -k monitoring"""

from __future__ import annotations

import concurrent.futures
import json
import math
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import httpx
import pytest

from infra import config
from infra.bootstrap import metrics_units as container_metrics_units
from infra.edge import render
from infra.monitoring import dashboard, edge_series, report
from infra.monitoring import rules as monitoring_rules
from infra.monitoring import runtime as monitoring_runtime
from infra.monitoring import specs as monitoring_specs
from infra.services import app
from infra.services.app import LOGS_DIR
from tests.e2e.conftest import REPO, STACK
from tests.e2e.realize import wait_healthy
from tests.monitoring import charts, smtp

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
# Panels whose metrics have no source on this stack yet, and why (printed, not hidden).
NO_SOURCE_HERE = {
    "Log growth per stream (vs the hour before)": "compares with the hour before: no history",
    "Hours since the last successful backup": "no ora-backup run writes this stack's textfile dir",
}
BURST = 120  # requests answered 502 while the app is stopped (> MIN_EDGE_REQUESTS)
WRITER_EVERY = 1  # seconds: the e2e's interval of ora-container-metrics (15 s in prod)
# An unknown path of 4000 characters: the app's access line for its 404 is ~4.2 KB, so
# 280 of them write ~1.2 MB to app.log, past its 1 MB rotation (app/ora/logs.py).
LONG_PATH, LONG_REQUESTS = "/" + "l" * 4000, 280
MAX_LOG_FILE = 1024 * 1024
LOOP_HEALTH_RUNS = 100  # admin-requested loop_health runs: ~23 KB on the scheduler stream
TIMING = monitoring_runtime.TIMINGS["test"]
# Alerts the tests above saw firing; the report at the end of this module must name them.
FIRED: set[str] = set()
REPORT_HOURS = 0.5  # the report's period: this module's tests (a few minutes), and more
# Pixels of the first series' colour in a chart with no legend: a line across the plot
# draws ~1000 of them, a chart with axes but no data none (tests/monitoring/test_report.py).
MIN_SERIES_PIXELS = 200


@pytest.fixture(scope="module")
def container_metrics(deployment):
    """ora-container-metrics as its systemd service runs it (the dev stack has no host
    bootstrap): the host's python3, writing into the stack's textfile dir."""
    directory = Path(deployment.overrides["backupTextfileDir"])
    log = deployment.workdir / "ora-container-metrics.log"
    script = str(container_metrics_units.SCRIPT)
    once = time.monotonic()
    subprocess.run(["python3", script, "--dir", str(directory)], check=True)
    print(f"\n[monitoring] one ora-container-metrics run: {time.monotonic() - once:.2f} s")
    with log.open("w") as out:
        writer = subprocess.Popen(
            ["python3", script, "--dir", str(directory), "--every", str(WRITER_EVERY)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        started = time.monotonic()
        wait_until(
            lambda: query(deployment, "rate(ora_container_cpu_usage_seconds_total[1m])"),
            60,
            f"no container series scraped from {directory} (log: {log})",
        )
        print(f"[monitoring] container series scraped {time.monotonic() - started:.1f} s in")
        yield writer
    finally:
        writer.terminate()
        writer.wait(10)


def prometheus(deployment, path: str, **params) -> dict:
    """Prometheus' HTTP API, asked from inside its container (it publishes no port, and
    listens on its `monitoring` alias only, not on loopback)."""
    address = monitoring_specs.PROMETHEUS_LISTEN
    url = f"http://{address}{path}?{urllib.parse.urlencode(params)}"
    name = deployment.outputs["monitoring"]["prometheus"]
    result = deployment.client.containers.get(name).exec_run(["wget", "-q", "-O", "-", url])
    assert result.exit_code == 0, result.output.decode(errors="replace")
    return json.loads(result.output)


def query(deployment, expr: str) -> list[dict]:
    return prometheus(deployment, "/api/v1/query", query=expr)["data"]["result"]


def wait_until(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(interval)
    raise TimeoutError(f"{what} after {timeout:.0f} s")


def test_prometheus_scrapes_every_target_and_all_are_up(deployment):
    def all_up():
        targets = prometheus(deployment, "/api/v1/targets")["data"]["activeTargets"]
        jobs = {t["labels"]["job"] for t in targets}
        down = [(t["labels"]["job"], t["lastError"]) for t in targets if t["health"] != "up"]
        return (jobs, targets) if not down and len(jobs) >= 8 else None

    jobs, targets = wait_until(all_up, 60, "not every target is up", interval=2)
    print(f"\n[monitoring] {len(targets)} targets up: {sorted(jobs)}")
    expected = {"prometheus", "alertmanager", "node", "redis", "qdrant", "mtail", "app"}
    assert expected | {"blackbox"} <= jobs


def test_blackbox_probe_verifies_the_served_certificate(deployment):
    found = wait_until(
        lambda: query(deployment, "probe_success == 1 and probe_ssl_earliest_cert_expiry > time()"),
        60,
        "the HTTPS probe of the edge does not succeed",
    )
    assert found[0]["metric"]["instance"] == deployment.outputs["url"]


def _edge(deployment, path: str, count: int, pace: float = 0.0) -> list[int]:
    """`count` requests, 16 at a time: dense enough to fill the rule's short window; with
    `pace`, one at a time, `pace` seconds apart."""
    url = deployment.outputs["url"].replace("localhost", "127.0.0.1") + path
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # self-signed dev edge

    def one(_):
        request = urllib.request.Request(url, headers={"Host": "localhost"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as answer:  # noqa: S310
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    if pace:
        answers = []
        for n in range(count):
            answers.append(one(n))
            time.sleep(pace)
        return answers
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(count)))


def _alert_mails(inbox: smtp.Inbox, status: str) -> list:
    with inbox.arrived:
        return [
            m
            for m in inbox.messages
            if "EdgeErrorRate" in m["Subject"] and m["Subject"].startswith(f"[{status}")
        ]


def test_a_burst_of_5xx_at_the_edge_emails_one_alert_then_its_resolution(deployment, alert_relay):
    inbox, client = alert_relay.inbox, deployment.client
    apps = deployment.outputs["containers"]["app"]
    threshold = config.offline(STACK).monitoring.error_rate_percent
    started = time.monotonic()
    for name in apps:
        client.containers.get(name).stop(timeout=5)
    try:
        statuses = _edge(deployment, "/", BURST)
        first_failure = time.monotonic()
    finally:
        for name in apps:
            client.containers.get(name).start()
    assert sum(s >= 500 for s in statuses) >= monitoring_rules.MIN_EDGE_REQUESTS, statuses
    burst = first_failure - started
    try:
        firing = wait_until(lambda: _alert_mails(inbox, "FIRING"), 90, "no firing email")
    except TimeoutError:
        print(f"burst took {burst:.1f} s; mails: {[m['Subject'] for m in inbox.messages]}")
        print(query(deployment, f"sum(increase({edge_series.ERRORS}[1m]))"))
        raise
    arrived = time.monotonic() - first_failure
    for name in apps:
        wait_healthy(client, name, 120)
    resolved = wait_until(lambda: _alert_mails(inbox, "RESOLVED"), 120, "no resolved email")
    (mail,) = firing  # one incident, one email (asserted again once it resolved)
    assert len(_alert_mails(inbox, "FIRING")) == 1
    text = smtp.text_of(mail)
    print(
        f"\n[monitoring] {sum(s >= 500 for s in statuses)}/{len(statuses)} requests 5xx; "
        f"email {mail['Subject']!r} {arrived:.1f} s after the burst "
        f"(test timing; resolved {time.monotonic() - started:.0f} s after the start)\n{text}"
    )
    assert mail["To"] == "ops@example.com"
    assert "EdgeErrorRate" in text and "is firing" in text
    assert f"threshold: {threshold} %" in text
    assert "value: " in text and " %" in text.split("value: ", 1)[1].split("\n", 1)[0]
    assert "RESOLVED" in resolved[0]["Subject"]
    assert any(login.endswith(alert_relay.overrides["smtpUser"]) for login in inbox.logins)
    FIRED.add("EdgeErrorRate")


def _log_files(deployment, container: str) -> dict[str, tuple[int, int]]:
    """{file name: (owner uid, size)} of the log files in /opt/ora/logs of `container`."""
    ran = deployment.client.containers.get(container).exec_run(
        ["find", LOGS_DIR, "-maxdepth", "1", "-name", "*.log*", "-printf", "%f %U %s\\n"]
    )
    assert ran.exit_code == 0, ran.output.decode(errors="replace")
    rows = [line.split() for line in ran.output.decode().splitlines()]
    return {name: (int(uid), int(size)) for name, uid, size in rows}


def _stream_bytes(deployment, stream: str) -> float:
    found = query(deployment, f'sum(ora_log_bytes_total{{stream="{stream}"}})')
    return float(found[0]["value"][1]) if found else 0.0


def test_app_worker_and_scheduler_write_log_files_that_mtail_counts(deployment):
    containers = deployment.outputs["containers"]
    web = _log_files(deployment, containers["app"][0])
    worker = _log_files(deployment, containers["worker"])
    print(f"\n[monitoring] {LOGS_DIR}: app replica {web}; worker {worker}")
    assert web["app.log"][0] == worker["worker.log"][0] == worker["scheduler.log"][0]
    assert web["app.log"][0] == int(app.UID)

    def streams():
        found = {r["metric"]["stream"] for r in query(deployment, "ora_log_bytes_total")}
        return found if {"access", "app", "worker", "scheduler"} <= found else None

    print(f"[monitoring] log streams counted: {sorted(wait_until(streams, 60, 'no stream'))}")


def test_app_log_rotates_at_1_mb_keeping_3_backups_and_its_counter_never_resets(deployment):
    started = time.monotonic()
    before = _stream_bytes(deployment, "app")
    # location / has a rate limit of its own (infra/edge/render.py OTHER_RATE_LIMIT): paced within.
    pace = 1 / float(render.OTHER_RATE_LIMIT.removesuffix("r/s"))
    statuses = _edge(deployment, LONG_PATH, LONG_REQUESTS, pace)
    assert statuses.count(404) == LONG_REQUESTS, sorted(set(statuses))
    files = {}
    for name in deployment.outputs["containers"]["app"]:
        files |= _log_files(deployment, name)  # one volume: every replica sees the same files
    backups = sorted(n for n in files if n.startswith("app.log."))
    print(f"\n[monitoring] app.log after {LONG_REQUESTS} long requests: {files}")
    assert backups and set(backups) <= {"app.log.1", "app.log.2", "app.log.3"}, files
    longest = len(LONG_PATH) + 1024
    assert all(files[n][1] < MAX_LOG_FILE + longest for n in ["app.log", *backups]), files
    written = LONG_REQUESTS * len(LONG_PATH)
    after = wait_until(
        lambda: (v := _stream_bytes(deployment, "app")) >= before + written and v,
        60,
        f"ora_log_bytes_total{{stream=app}} did not grow by {written} B from {before:.0f}",
    )
    # Resets during this test only: earlier tests of the suite replace mtail (a redeploy,
    # a rollback), and a new mtail process starts its counters at 0.
    span = math.ceil(time.monotonic() - started) + 2
    resets = query(deployment, f'resets(ora_log_bytes_total{{stream="app"}}[{span}s])')
    print(f"[monitoring] app stream counter {before:.0f} -> {after:.0f} B across the rotation")
    assert [float(r["value"][1]) for r in resets] == [0.0]


def test_a_burst_of_scheduler_lines_fires_log_growth_and_emails_it(deployment, alert_relay):
    window, baseline = TIMING.window, TIMING.baseline
    has_baseline = (
        f'increase(ora_log_bytes_total{{stream="scheduler"}}[{baseline}] offset {window})'
    )
    wait_until(lambda: query(deployment, has_baseline), 180, "no scheduler baseline")
    firing = 'ALERTS{alertname="LogGrowth",stream="scheduler",alertstate="firing"}'
    assert not query(deployment, firing)
    seen = len(alert_relay.inbox.messages)
    headers = {"Authorization": f"Bearer {deployment.outputs['devApiKey']}"}
    # An operator asks the loop for its state (admin scope); each run logs it on the
    # scheduler's stream (app/ora/jobs.py loop_health).
    with httpx.Client(verify=False, timeout=10, headers=headers) as client:  # noqa: S501
        answers = [
            client.post(
                deployment.outputs["url"] + "/api/v1/jobs", json={"kind": "loop_health"}
            ).status_code
            for _ in range(LOOP_HEALTH_RUNS)
        ]
    assert answers.count(202) >= LOOP_HEALTH_RUNS // 2, sorted(set(answers))
    started = time.monotonic()
    wait_until(lambda: query(deployment, firing), 60, "LogGrowth does not fire for scheduler")
    fired = time.monotonic() - started

    def mail():
        with alert_relay.inbox.arrived:
            new = alert_relay.inbox.messages[seen:]
        return [
            m
            for m in new
            if "LogGrowth" in m["Subject"]
            and m["Subject"].startswith("[FIRING")
            and "scheduler wrote" in smtp.text_of(m)
        ]

    (first, *_) = wait_until(mail, 60, "no LogGrowth email for the scheduler stream")
    FIRED.add("LogGrowth")
    print(
        f"\n[monitoring] {answers.count(202)} loop_health runs: LogGrowth fired for the "
        f"scheduler stream {fired:.1f} s after them; email {first['Subject']!r} "
        f"{time.monotonic() - started:.1f} s after\n{smtp.text_of(first)}"
    )


def test_every_dashboard_panel_query_returns_data(deployment, container_metrics):
    board = dashboard.dashboard(config.offline(STACK))
    titles = {panel["title"] for panel in board["panels"]}
    assert set(NO_SOURCE_HERE) <= titles, set(NO_SOURCE_HERE) - titles  # no stale excuse
    empty, answered = [], 0
    for panel in board["panels"]:
        if panel["title"] in NO_SOURCE_HERE:
            continue
        for target in panel["targets"]:
            result = query(deployment, target["expr"])
            if not result:
                empty.append((panel["title"], target["expr"]))
            answered += bool(result)
    for title, why in NO_SOURCE_HERE.items():
        print(f"[monitoring] panel without a source here: {title}: {why}")
    print(f"[monitoring] {answered} panel queries answered with data")
    assert not empty, empty


def _memory(container) -> tuple[int, int]:
    """Usage less inactive page cache, as `docker stats` counts it (cgroup v1 or v2)."""
    stats = container.stats(stream=False)["memory_stats"]
    detail = stats.get("stats", {})
    inactive = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    return stats.get("usage", 0) - inactive, stats.get("limit", 0)


def test_benchmark_monitoring_memory_against_limits(deployment):
    """A benchmark print, no assertion on the figures."""
    client, monitoring = deployment.client, deployment.outputs["monitoring"]
    total = stack = 0
    print()
    for service, name in sorted(monitoring.items()):
        used, limit = _memory(client.containers.get(name))
        total += used
        print(
            f"[monitoring] {service:18} {used / 2**20:7.1f} MiB of {limit / 2**20:6.0f} MiB "
            f"({100 * used / limit:4.1f} %)"
        )
    for container in client.containers.list(filters={"label": f"org.ora.stack={STACK}"}):
        stack += _memory(container)[0]
    print(
        f"[monitoring] total {total / 2**20:.1f} MiB of the stack's {stack / 2**20:.1f} MiB "
        f"({100 * total / stack:.1f} %)"
    )
    assert total > 0


def _by_name(deployment, expr: str) -> dict[str, float]:
    return {r["metric"]["name"]: float(r["value"][1]) for r in query(deployment, expr)}


def test_every_container_has_restarts_memory_and_its_limit(deployment, container_metrics):
    names = set(deployment.containers)
    limits = wait_until(
        lambda: (
            (found := _by_name(deployment, "ora_container_memory_limit_bytes")).keys() >= names
            and found
        ),
        60,
        f"no memory limit series for every one of {sorted(names)}",
    )
    used = _by_name(deployment, "ora_container_memory_working_set_bytes")
    restarts = _by_name(deployment, "ora_container_restarts_total")
    cpu = _by_name(deployment, "ora_container_cpu_usage_seconds_total")
    for name in sorted(names):
        declared = deployment.client.api.inspect_container(name)["HostConfig"]["Memory"]
        print(
            f"[monitoring] {name:40} {used[name] / 2**20:6.1f} MiB of {limits[name] / 2**20:4.0f}"
            f" MiB, {cpu[name]:6.2f} s CPU, {restarts[name]:.0f} restarts"
        )
        assert limits[name] == declared > 0, name
        assert 0 < used[name] < limits[name], name
    assert names <= restarts.keys() and names <= cpu.keys()


def test_the_container_metrics_file_is_fresh_and_its_stale_alert_quiet(
    deployment, container_metrics
):
    """The real node-exporter's mtime series of the writer's file matches the
    ContainerMetricsStale rule's selector (the label is the file's path)."""
    selector = monitoring_rules.CONTAINER_METRICS_MTIME
    age = f"time() - max by (job) ({selector})"
    (found,) = wait_until(lambda: query(deployment, age), 60, f"no {selector}")
    files = [r["metric"]["file"] for r in query(deployment, selector)]
    print(f"\n[monitoring] {files} written {float(found['value'][1]):.1f} s ago")
    assert float(found["value"][1]) < monitoring_rules.CONTAINER_METRICS_STALE_SECONDS
    assert not query(deployment, 'ALERTS{alertname="ContainerMetricsStale"}')


def _crash(client, name: str) -> None:
    """SIGKILL to the container's main process from the host: a crash, which the restart
    policy answers (`docker kill` or stop would count as an operator's stop)."""
    state = client.api.inspect_container(name)
    before = state["RestartCount"]
    os.kill(state["State"]["Pid"], signal.SIGKILL)
    wait_until(
        lambda: client.api.inspect_container(name)["RestartCount"] > before,
        60,
        f"{name} was not restarted",
        interval=0.2,
    )
    wait_healthy(client, name, 120)


def _alertmanager_alerts(deployment) -> list[dict]:
    name = deployment.outputs["monitoring"]["alertmanager"]
    url = "http://127.0.0.1:9093/api/v2/alerts"
    result = deployment.client.containers.get(name).exec_run(["wget", "-q", "-O", "-", url])
    assert result.exit_code == 0, result.output.decode(errors="replace")
    return json.loads(result.output)


def test_three_crashes_fire_restart_loop_in_prometheus_and_alertmanager(
    deployment, container_metrics
):
    """The worker crashes RESTARTS_IN_15M times (healthy again in between, so the rest of
    the suite finds it as it was); RestartLoop fires for it."""
    worker = deployment.outputs["containers"]["worker"]
    restarts = f'ora_container_restarts_total{{name="{worker}"}}'
    wait_until(lambda: query(deployment, restarts), 60, f"no {restarts}")
    mine = f'ALERTS{{alertname="RestartLoop",name="{worker}"}}'
    assert not query(deployment, mine), "RestartLoop fires before any crash"
    started = time.monotonic()
    for _ in range(monitoring_rules.RESTARTS_IN_15M):
        _crash(deployment.client, worker)
    crashed = time.monotonic()
    wait_until(
        lambda: query(deployment, mine.replace("}", ',alertstate="firing"}')),
        60,
        "RestartLoop does not fire",
    )
    fired = time.monotonic()
    received = wait_until(
        lambda: [
            a
            for a in _alertmanager_alerts(deployment)
            if a["labels"].get("alertname") == "RestartLoop"
        ],
        60,
        "RestartLoop does not reach Alertmanager",
    )
    assert received[0]["labels"]["name"] == worker
    FIRED.add("RestartLoop")
    value = query(deployment, f"{restarts} - min_over_time({restarts}[15m])")[0]["value"][1]
    print(
        f"\n[monitoring] {monitoring_rules.RESTARTS_IN_15M} crashes of {worker} in "
        f"{crashed - started:.1f} s; RestartLoop firing {fired - crashed:.1f} s later "
        f"(rise {value}), in Alertmanager {time.monotonic() - crashed:.1f} s after the last"
    )


def _monitoring_address(container) -> str:
    networks = container.attrs["NetworkSettings"]["Networks"]
    return next(n["IPAddress"] for name, n in networks.items() if name.endswith("-monitoring"))


def test_report_out_names_the_fired_alerts_and_its_charts_show_the_data(deployment, tmp_path):
    """The report as an operator makes it (`make report ARGS="--out DIR --prometheus URL"`),
    a subprocess against the stack's real Prometheus. It publishes no port: on a local engine
    the host reaches it at its address on the monitoring network (the only one it listens
    on), the address `make tunnel` forwards to on a remote host."""
    name = deployment.outputs["monitoring"]["prometheus"]
    url = f"http://{_monitoring_address(deployment.client.containers.get(name))}:9090"
    out = tmp_path / "report"
    command = [sys.executable, "-m", "infra.monitoring.report", STACK, "--out", str(out)]
    command += ["--prometheus", url, "--hours", str(REPORT_HOURS)]
    started = time.monotonic()
    ran = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    page = (out / "report.html").read_text()
    named = set(re.findall(r"<tr><td>(\w+)</td>", page))
    drawn = sorted(p.stem for p in out.glob("*.png"))
    pixels = {n: charts.series_pixels(out / f"{n}.png") for n in drawn}
    print(
        f"\n[monitoring] report of {REPORT_HOURS} h from {url} in "
        f"{time.monotonic() - started:.1f} s: alerts {sorted(named)} (fired here: "
        f"{sorted(FIRED)}); pixels of the first series per chart: {pixels}"
    )
    assert named >= FIRED, f"fired here: {sorted(FIRED)}; the report names: {sorted(named)}"
    if not named:
        assert "no alert fired" in page
    assert drawn == sorted(report.CHARTS)
    assert all(f'src="{chart}.png"' in page for chart in drawn), page
    # Charts without a legend: only the plotted series is drawn in the first series' colour.
    for chart in ("requests", "error_rate"):
        assert pixels[chart] >= MIN_SERIES_PIXELS, (chart, pixels[chart])

"""A real Prometheus holding HOURS of backfilled data (promtool tsdb create-blocks-from
openmetrics), shared by the report and dashboard tests."""

import subprocess
import time

import pytest

from infra.monitoring import edge_series
from tests.monitoring import chain
from tests.ports import allocate

HOURS = 3
BLIP = 'ALERTS{alertname="DiskFull",alertstate="firing",severity="critical"}'
BLIP_AGE = 5 * 3600
BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1", "2", "2.5", "5", "10", "+Inf")


def openmetrics(now: int) -> str:
    """HOURS of one-minute samples, ending 5 minutes ago; 502s burst in the middle hour."""
    times = range(now - HOURS * 3600, now - 300, 60)
    burst = range(now - 2 * 3600, now - 3600)
    series: dict[str, list[tuple[int, float]]] = {}

    def counter(name, step_of):
        total, points = 0.0, []
        for t in times:
            total += step_of(t)
            points.append((t, total))
        series[name] = points

    counter('ora_edge_requests_total{status="200"}', lambda t: 600)
    counter('ora_edge_requests_total{status="502"}', lambda t: 120 if t in burst else 3)
    counter(edge_series.ERRORS, lambda t: 120 if t in burst else 3)
    counter(edge_series.REQUESTS, lambda t: 720 if t in burst else 603)
    for i, le in enumerate(BUCKETS):
        share = min(1.0, 0.2 * (i + 1)) if le != "+Inf" else 1.0
        counter(
            f'ora_edge_request_duration_seconds_bucket{{le="{le}"}}', lambda t, s=share: 600 * s
        )
    counter('ora_log_bytes_total{stream="scheduler"}', lambda t: 40000 if t in burst else 10000)
    counter('ora_log_bytes_total{stream="app"}', lambda t: 5000)
    fs = 'mountpoint="/",fstype="ext4"'
    series[f"node_filesystem_size_bytes{{{fs}}}"] = [(t, 100e9) for t in times]
    series[f"node_filesystem_avail_bytes{{{fs}}}"] = [
        (t, 40e9 - (t - times[0]) * 1e5) for t in times
    ]
    series["ora_backup_last_success_timestamp_seconds"] = [(t, now - 7200) for t in times]
    # what the app (jobs, scheduler), ora-container-metrics and blackbox expose (dashboard)
    for job in ("prometheus", "mtail", "node"):
        series[f'up{{job="{job}",instance="{job}:1"}}'] = [(t, 1) for t in times]
    for queue, depth in (("ready", 4), ("processing", 1), ("delayed", 0), ("dead", 2)):
        series[f'ora_jobs_queue_depth{{queue="{queue}"}}'] = [(t, depth) for t in times]
    # the job series, as the app and the worker both expose them (the same Redis figures)
    for source in ('job="app",instance="app:8000"', 'job="worker",instance="worker:9100"'):
        counter(f'ora_jobs_runs_total{{{source},kind="reembed"}}', lambda t: 6)
        counter(f'ora_jobs_failures_total{{{source},kind="reembed"}}', lambda t: 1)
        series[f"ora_scheduler_last_run_timestamp_seconds{{{source}}}"] = [
            (t, t - 30) for t in times
        ]
    counter('ora_container_cpu_usage_seconds_total{name="ora-redis"}', lambda t: 12)
    series['ora_container_memory_working_set_bytes{name="ora-redis"}'] = [(t, 150e6) for t in times]
    series['ora_container_memory_limit_bytes{name="ora-redis"}'] = [(t, 256e6) for t in times]
    cert = 'probe_ssl_earliest_cert_expiry{instance="https://localhost:8443"}'
    series[cert] = [(t, now + 60 * 86400) for t in times]
    firing = 'ALERTS{alertname="EdgeErrorRate",alertstate="firing",severity="critical"}'
    series[firing] = [(t, 1) for t in times if t in burst]
    # One minute of DiskFull, BLIP_AGE ago: older than every test's period but the blip's own.
    series[BLIP] = [(now - BLIP_AGE, 1), (now - BLIP_AGE + 60, 1)]
    lines = [f"{name} {value} {t}" for name, points in series.items() for t, value in points]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("report")
    source = directory / "data.om"
    source.write_text(openmetrics(int(time.time())))
    subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(source),
            str(directory / "tsdb"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (directory / "prometheus.yml").write_text("global: {}\n")
    address = f"127.0.0.1:{allocate()}"
    log = directory / "prometheus.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={directory}/prometheus.yml",
                f"--storage.tsdb.path={directory}/tsdb",
                f"--web.listen-address={address}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        chain.wait_http(f"http://{address}/-/ready", process, log)
        yield f"http://{address}"
    finally:
        process.terminate()
        process.wait(timeout=10)

"""Job runs, failures and the scheduler loop's last run as Prometheus series, on the worker's
/metrics and the app's: the alerts (JobFailureRate, SchedulerStale) read nothing else."""

import json
import signal
import socket
import time
import urllib.request

import pytest
from conftest import stop_process, wait_for
from ora.api import JOB_KINDS
from ora.jobs import HANDLERS
from ora.queue import DEAD
from prometheus_client.parser import text_string_to_metric_families

from tests.ports import allocate


@pytest.fixture
def env(env):
    return {**env, "DIAGNOSTIC_JOBS": "true"}


def parse(text: str) -> dict[str, dict[tuple, float]]:
    """metric sample name -> {sorted labels: value}"""
    series: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return series


def scrape_worker(process) -> dict | None:
    try:
        with urllib.request.urlopen(process.metrics_url, timeout=2) as answer:  # noqa: S310
            assert answer.headers["content-type"].startswith("text/plain")
            return parse(answer.read().decode())
    except OSError:
        return None


def by_kind(series, name):
    return {dict(labels)["kind"]: value for labels, value in series.get(name, {}).items()}


def test_the_worker_serves_job_runs_and_failures_by_kind(client, redis_client, start_worker):
    failing = client.post("/api/v1/jobs", json={"kind": "fail"}).json()["id"]
    client.post("/api/v1/jobs", json={"kind": "sleep", "payload": {"seconds": 0.01}})
    worker = start_worker()
    wait_for(lambda: redis_client.lrange(DEAD, 0, -1) == [failing.encode()])
    series = wait_for(lambda: scrape_worker(worker))
    runs, failures = (
        by_kind(series, "ora_jobs_runs_total"),
        by_kind(series, "ora_jobs_failures_total"),
    )
    assert failures["fail"] == runs["fail"] == 3  # JOB_MAX_ATTEMPTS in the test environment
    assert (runs["sleep"], failures["sleep"]) == (1, 0)
    # every kind exists from the start, at 0: rate() would miss a first increment otherwise
    assert (runs["reembed"], failures["reembed"]) == (0, 0)
    assert series["ora_jobs_queue_depth"][(("queue", "dead"),)] == 1
    # the app's /metrics reads the same figures from Redis
    app = parse(client.get("/metrics").text)
    assert by_kind(app, "ora_jobs_runs_total") == runs
    assert by_kind(app, "ora_jobs_failures_total") == failures


def test_the_scheduler_loop_stamps_its_last_run(client, start_worker):
    assert "ora_scheduler_last_run_timestamp_seconds" not in parse(client.get("/metrics").text)
    before = time.time()
    worker = start_worker()  # LOOP_HEALTH_INTERVAL=3600: the first tick takes the free slot

    def last_run():
        series = scrape_worker(worker) or {}
        return series.get("ora_scheduler_last_run_timestamp_seconds", {}).get(())

    stamped = wait_for(last_run)
    assert before <= stamped <= time.time()
    app = parse(client.get("/metrics").text)
    assert app["ora_scheduler_last_run_timestamp_seconds"][()] == stamped


def test_a_job_run_by_hand_is_not_the_schedulers_run(client):
    """Only the scheduler's own run counts for the loop's health."""
    job = client.post("/api/v1/jobs", json={"kind": "loop_health"})
    assert job.status_code == 202
    assert "ora_scheduler_last_run_timestamp_seconds" not in parse(client.get("/metrics").text)


def test_sigterm_stops_the_worker_and_its_metrics_server_cleanly(start_worker, tmp_path):
    worker = start_worker()
    wait_for(lambda: scrape_worker(worker))
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0
    assert scrape_worker(worker) is None


def test_a_taken_metrics_port_stops_the_worker_with_one_error(start_worker, tmp_path):
    port = allocate()
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", port))  # noqa: S104 - the worker binds all addresses
        taken.listen()
        worker = start_worker(WORKER_METRICS_PORT=str(port))
        try:
            assert worker.wait(timeout=30) == 2
        finally:
            stop_process(worker)
    lines = [json.loads(line) for line in (tmp_path / "worker-0.log").read_text().splitlines()]
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert [e["msg"] for e in errors] == ["cannot serve /metrics"]
    assert errors[0]["port"] == port


def test_the_worker_and_the_api_know_the_same_job_kinds():
    assert set(JOB_KINDS) == set(HANDLERS)

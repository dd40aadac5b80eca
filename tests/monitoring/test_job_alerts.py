"""The job alerts end to end, on real processes: a real `python -m ora.worker` (on a real
redis-server) runs failing jobs; the real Prometheus, with the rendered config and rules,
scrapes the worker's /metrics and fires JobFailureRate, which reaches Alertmanager. The
worker's scheduler keeps its loop fresh meanwhile, so SchedulerStale stays quiet."""

import asyncio
import json
import subprocess
import sys
import time
import urllib.request

import pytest

from infra import config
from tests.app.conftest import APP_DIR, RedisServer, base_env, process_env, stop_process
from tests.monitoring import chain
from tests.ports import allocate

pytestmark = pytest.mark.slow
FAILING_JOBS = 3  # x JOB_MAX_ATTEMPTS (3 in base_env) failed attempts, within one window


async def enqueue_failing_jobs(redis_url: str) -> None:
    from ora.queue import JobQueue
    from redis.asyncio import Redis

    async with Redis.from_url(redis_url) as redis:
        queue = JobQueue(redis, 10, 3, 0.05)
        for number in range(FAILING_JOBS):
            await queue.enqueue("fail", {"message": f"drill {number}"})


def alertmanager_alerts(url: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as answer:  # noqa: S310
        return json.load(answer)


@pytest.fixture
def worker(tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    port = allocate()
    env = {
        **base_env(redis.url),
        "DIAGNOSTIC_JOBS": "true",
        "LOOP_HEALTH_INTERVAL": "1",
        "WORKER_METRICS_PORT": str(port),
    }
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ora.worker"],
        cwd=APP_DIR,
        env=process_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield redis.url, f"127.0.0.1:{port}"
    finally:
        stop_process(process)
        log.close()
        redis.stop()


def test_failing_jobs_fire_the_job_failure_alert_through_alertmanager(worker, tmp_path):
    redis_url, worker_address = worker
    stack_config = config.offline("dev")
    running = chain.start(stack_config, tmp_path, "", logs=[], scraped={"worker": worker_address})
    try:
        assert running.query('up{job="worker"}')[0]["value"][1] == "1"
        asyncio.run(enqueue_failing_jobs(redis_url))
        deadline, firing = time.monotonic() + 60, []
        while not firing and time.monotonic() < deadline:
            firing = [
                a
                for a in alertmanager_alerts(running.alertmanager)
                if a["labels"]["alertname"] == "JobFailureRate"
            ]
            time.sleep(0.5)
        assert firing, running.diagnose()
        assert firing[0]["labels"]["kind"] == "fail"
        assert firing[0]["annotations"]["threshold"].startswith(
            f"{stack_config.monitoring.job_failure_percent} %"
        )
        names = {a["labels"]["alertname"] for a in alertmanager_alerts(running.alertmanager)}
        assert "SchedulerStale" not in names  # the loop ran every second
        last_run = running.query("time() - max(ora_scheduler_last_run_timestamp_seconds)")
        assert float(last_run[0]["value"][1]) < 10
    finally:
        running.stop()

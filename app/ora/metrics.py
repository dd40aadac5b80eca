"""Prometheus metrics. Under Gunicorn, PROMETHEUS_MULTIPROC_DIR switches prometheus_client
to multiprocess mode (set in gunicorn.conf.py before any worker imports this module).

The job series (queue depth, runs, failures, the scheduler's last run) live in Redis, so
they span every worker; the app's and the worker's /metrics both read them at scrape time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from redis.exceptions import RedisError

from ora.queue import JobQueue
from ora.scheduler import last_run

REQUESTS = Counter(
    "ora_http_requests_total",
    "HTTP requests by route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "ora_http_request_duration_seconds",
    "HTTP request latency by route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_FLIGHT = Gauge(
    "ora_http_requests_in_flight", "HTTP requests being served", multiprocess_mode="livesum"
)
CACHE_HITS = Counter("ora_search_cache_hits_total", "Search results served from the cache")
CACHE_MISSES = Counter("ora_search_cache_misses_total", "Searches that missed the cache")
AUTH_FAILURE_REASONS = ("missing", "invalid", "insufficient_scope")
AUTH_FAILURES = Counter(
    "ora_auth_failures_total", "Requests refused by API-key authentication", ["reason"]
)
for _reason in AUTH_FAILURE_REASONS:
    AUTH_FAILURES.labels(_reason)  # every series exists from the start, at 0, for alerting

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class JobStats:
    depths: dict[str, int]  # queue state -> jobs
    runs: dict[str, int]  # job kind -> finished attempts (done or failed)
    failures: dict[str, int]  # job kind -> failed attempts
    last_run: float | None  # Unix time of the scheduler's last loop_health run


async def job_stats(queue: JobQueue, kinds: Iterable[str]) -> JobStats | None:
    """Read from Redis; None when Redis does not answer (the scrape still succeeds)."""
    try:
        depths = await queue.depths()
        failures, runs = await queue.counters()
        scheduler_last_run = await last_run(queue.redis)
    except RedisError:
        return None
    # Every known kind from the start, at 0: rate() misses a counter's first increment.
    every = sorted({*kinds, *runs, *failures})
    return JobStats(
        depths=depths,
        runs={kind: runs.get(kind, 0) for kind in every},
        failures={kind: failures.get(kind, 0) for kind in every},
        last_run=scheduler_last_run,
    )


class JobCollector:
    """Exposes one JobStats snapshot."""

    def __init__(self, stats: JobStats) -> None:
        self.stats = stats

    def collect(self):
        depth = GaugeMetricFamily("ora_jobs_queue_depth", "Jobs per queue state", labels=["queue"])
        for queue, value in sorted(self.stats.depths.items()):
            depth.add_metric([queue], value)
        yield depth
        runs = CounterMetricFamily(
            "ora_jobs_runs", "Finished job attempts (done or failed) by kind", labels=["kind"]
        )
        for kind, value in sorted(self.stats.runs.items()):
            runs.add_metric([kind], value)
        yield runs
        failed = CounterMetricFamily(
            "ora_jobs_failures", "Failed job attempts by kind", labels=["kind"]
        )
        for kind, value in sorted(self.stats.failures.items()):
            failed.add_metric([kind], value)
        yield failed
        if self.stats.last_run is not None:
            yield GaugeMetricFamily(
                "ora_scheduler_last_run_timestamp_seconds",
                "Unix time of the scheduler loop's last run (its loop_health job, run by a worker)",
                value=self.stats.last_run,
            )


def render(stats: JobStats | None) -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if stats is not None:
        extra = CollectorRegistry()
        extra.register(JobCollector(stats))
        text += generate_latest(extra)
    return text

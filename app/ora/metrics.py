"""Prometheus metrics. Under Gunicorn, PROMETHEUS_MULTIPROC_DIR switches prometheus_client
to multiprocess mode (set in gunicorn.conf.py before any worker imports this module)."""

from __future__ import annotations

import os

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


class QueueCollector:
    """Job-queue depth and failures, read from Redis at scrape time (they span all workers)."""

    def __init__(self, depths: dict[str, int], failures: dict[str, int]) -> None:
        self.depths = depths
        self.failures = failures

    def collect(self):
        depth = GaugeMetricFamily("ora_jobs_queue_depth", "Jobs per queue state", labels=["queue"])
        for queue, value in sorted(self.depths.items()):
            depth.add_metric([queue], value)
        yield depth
        failed = CounterMetricFamily(
            "ora_jobs_failures", "Failed job attempts by kind", labels=["kind"]
        )
        for kind, value in sorted(self.failures.items()):
            failed.add_metric([kind], value)
        yield failed


def render(depths: dict[str, int] | None, failures: dict[str, int] | None) -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if depths is not None and failures is not None:
        extra = CollectorRegistry()
        extra.register(QueueCollector(depths, failures))
        text += generate_latest(extra)
    return text

"""Every panel of the dashboard shows data from a real Prometheus (backfilled series with
the exporters' and the app's metric names), and its thresholds are the stack's."""

import json
import time
import urllib.parse
import urllib.request

import pytest

from infra import config
from infra.monitoring import dashboard
from infra.monitoring import rules as monitoring_rules

pytestmark = pytest.mark.slow
STACK = config.offline("prod")
BOARD = dashboard.dashboard(STACK)
TARGETS = [(p["title"], t["expr"]) for p in BOARD["panels"] for t in p["targets"]]


@pytest.mark.parametrize(("title", "expr"), TARGETS, ids=[f"{t}:{e[:30]}" for t, e in TARGETS])
def test_every_panel_query_returns_data(prometheus, title, expr):
    end = time.time() - 600
    query = urllib.parse.urlencode({"query": expr, "start": end - 3600, "end": end, "step": 60})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query_range?{query}", timeout=10) as answer:  # noqa: S310
        result = json.load(answer)["data"]["result"]
    assert result, f"{title}: {expr} returned nothing"
    assert any(v != "NaN" for series in result for _, v in series["values"])


def test_panels_have_unique_ids_and_the_alert_links_exist():
    from infra.monitoring.rules import PANELS

    ids = [p["id"] for p in BOARD["panels"]]
    assert len(ids) == len(set(ids))
    assert set(PANELS.values()) <= set(ids)


def threshold_of(panel_id: int) -> float:
    [panel] = [p for p in BOARD["panels"] if p["id"] == panel_id]
    return panel["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"]


def test_thresholds_are_the_stacks():
    assert threshold_of(2) == STACK.monitoring.error_rate_percent
    assert threshold_of(3) == STACK.monitoring.response_time_seconds


@pytest.mark.parametrize(
    ("alert", "threshold"),
    [
        ("JobFailureRate", STACK.monitoring.job_failure_percent),
        ("SchedulerStale", monitoring_rules.SCHEDULER_STALE_SECONDS),
        ("QueueDepth", STACK.monitoring.queue_depth),
        ("DeadLetters", STACK.monitoring.dead_letters),
    ],
)
def test_job_and_loop_health_panels_draw_their_alerts_threshold(alert, threshold):
    assert threshold_of(monitoring_rules.PANELS[alert]) == threshold


def test_loop_health_and_job_panels_read_the_series_the_app_and_worker_export():
    """max() across the app replicas' and the worker's copies of the same Redis figures."""
    by_id = {p["id"]: [t["expr"] for t in p["targets"]] for p in BOARD["panels"]}
    loop = by_id[monitoring_rules.PANELS["SchedulerStale"]]
    assert loop == ["time() - max(ora_scheduler_last_run_timestamp_seconds)"]
    throughput = by_id[7]
    assert all(e.startswith("max by (kind) (rate(ora_jobs_") for e in throughput), throughput


def test_job_panels_count_each_attempt_once(prometheus):
    """The backfill has each job series twice (the app's copy and the worker's), as
    Prometheus scrapes them: 6 runs a minute are 0.1/s, not 0.2/s; 1 failure in 6."""
    runs, failures = by_title("Job throughput and failures (attempts per second)")
    assert instant(prometheus, runs) == pytest.approx(0.1)
    assert instant(prometheus, failures) == pytest.approx(1 / 60)
    [rate] = by_title("Job failure rate vs threshold")
    assert instant(prometheus, rate) == pytest.approx(100 / 6)


def by_title(title: str) -> list[str]:
    [panel] = [p for p in BOARD["panels"] if p["title"] == title]
    return [t["expr"] for t in panel["targets"]]


def instant(prometheus: str, expr: str) -> float:
    query = urllib.parse.urlencode({"query": expr, "time": time.time() - 600})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query?{query}", timeout=10) as answer:  # noqa: S310
        [series] = json.load(answer)["data"]["result"]
    return float(series["value"][1])

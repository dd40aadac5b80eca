"""Every panel of the dashboard shows data from a real Prometheus (backfilled series with
the exporters' and the app's metric names), and its thresholds are the stack's."""

import json
import time
import urllib.parse
import urllib.request

import pytest

from infra import config, dashboard

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
    from infra.monitoring_rules import PANELS

    ids = [p["id"] for p in BOARD["panels"]]
    assert len(ids) == len(set(ids))
    assert set(PANELS.values()) <= set(ids)


def test_thresholds_are_the_stacks():
    by_id = {p["id"]: p for p in BOARD["panels"]}
    steps = by_id[2]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1]["value"] == STACK.monitoring.error_rate_percent
    steps = by_id[3]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1]["value"] == STACK.monitoring.response_time_seconds

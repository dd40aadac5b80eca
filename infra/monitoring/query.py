"""What the alert report reads from Prometheus' HTTP API: the period it covers, a small
client for instant and range queries, and the alerts that fired in the period."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime

    @property
    def step(self) -> int:
        return max(15, int((self.end - self.start).total_seconds() // 200))


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _get(self, path: str, params: dict) -> list[dict]:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=30) as answer:  # noqa: S310 - operator's URL
            body = json.load(answer)
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus answered {body}")
        return body["data"]["result"]

    def range(self, expr: str, period: Period) -> list[dict]:
        return self._get(
            "/api/v1/query_range",
            {
                "query": expr,
                "start": period.start.timestamp(),
                "end": period.end.timestamp(),
                "step": period.step,
            },
        )

    def instant(self, expr: str, at: dt.datetime) -> list[dict]:
        return self._get("/api/v1/query", {"query": expr, "time": at.timestamp()})


def alerts(prom: Prometheus, period: Period) -> list[dict]:
    """Each firing alert of the period: name, labels, first and last time seen firing.

    Each step looks back over the whole step (max_over_time), not at one instant: an alert
    that fired and resolved between two steps (Prometheus marks its series stale when it
    resolves) is still in the report."""
    rows = []
    firing = f'max_over_time(ALERTS{{alertstate="firing"}}[{period.step}s])'
    for series in prom.range(firing, period):
        labels = {k: v for k, v in series["metric"].items() if k not in ("__name__", "alertstate")}
        times = [float(t) for t, _ in series["values"]]
        last = dt.datetime.fromtimestamp(max(times), dt.UTC)
        resolved = (period.end - last).total_seconds() > 2 * period.step
        rows.append(
            {
                "alertname": labels.pop("alertname", "?"),
                "labels": labels,
                "first": dt.datetime.fromtimestamp(min(times), dt.UTC),
                "last": last,
                "resolved": resolved,
            }
        )
    return sorted(rows, key=lambda r: r["first"])

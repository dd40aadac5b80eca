"""The report's charts, drawn without Prometheus: each alerted topic shows its alert's
threshold, from the stack's config."""

import datetime as dt
import io

import numpy as np
import pytest
from matplotlib import colors
from PIL import Image

from infra import config
from infra.monitoring import report

END = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PERIOD = report.Period(END - dt.timedelta(hours=4), END)
ALERTED = ("error_rate", "latency", "log_growth")


class QuietPrometheus:
    """Every chart's query answers one low, flat series; no alert fired."""

    def range(self, expr: str, period: report.Period) -> list[dict]:
        if "ALERTS" in expr:
            return []
        start = int(period.start.timestamp())
        values = [[start + 600 * i, "0.5"] for i in range(24)]
        return [{"metric": {"stream": "app", "q": "p95", "mountpoint": "/"}, "values": values}]

    def instant(self, expr: str, at: dt.datetime) -> list[dict]:
        return []


def longest_threshold_row(png: bytes) -> int:
    """The most pixels of one image row in the threshold's colour: a horizontal line's length."""
    with Image.open(io.BytesIO(png)) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=int)
    rgb = np.array([round(255 * c) for c in colors.to_rgb(report.THRESHOLD_COLOUR)])
    near = np.abs(pixels - rgb).max(axis=2) <= 24
    return int(near.sum(axis=1).max())


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    lines = report.thresholds(config.offline("dev").monitoring)
    _subject, _body, images = report.build(QuietPrometheus(), "dev", PERIOD, lines)
    return images


@pytest.mark.parametrize("name", ALERTED)
def test_an_alerted_chart_draws_its_threshold_across_the_plot(images, name):
    # A dashed line across the ~690-pixel plot (its dashes fill about 40 % of a row), drawn
    # even far above the series (0.5); the other charts have none of its pixels.
    assert longest_threshold_row(images[name]) > 200, name


@pytest.mark.parametrize("name", sorted(set(report.CHARTS) - set(ALERTED)))
def test_other_charts_draw_no_threshold(images, name):
    assert longest_threshold_row(images[name]) == 0, name


def test_thresholds_are_the_alerts_defaults():
    lines = report.thresholds(config.offline("dev").monitoring)
    assert {name: value for name, (value, _) in lines.items()} == {
        "error_rate": 10,
        "latency": 2.0,
        "log_growth": 50,
    }


@pytest.mark.parametrize(
    ("key", "value", "chart", "label"),
    [
        ("alertErrorRate", "5", "error_rate", "EdgeErrorRate: 5 %"),
        ("alertResponseTime", "0.5", "latency", "EdgeResponseTime (p95): 0.5 s"),
        ("alertThreshold", "80", "log_growth", "LogGrowth: 80 %"),
    ],
)
def test_each_threshold_follows_its_stack_setting(key, value, chart, label):
    lines = report.thresholds(config.offline("dev", {key: value}).monitoring)
    assert lines[chart] == (float(value), label)

"""The alert report against a real Prometheus holding three backfilled hours of data."""

import json
import ssl
import urllib.parse
import urllib.request

import pytest
import trustme
from PIL import Image

from infra import config
from infra.monitoring import report
from tests.monitoring import charts, smtp
from tests.monitoring.conftest import BLIP

pytestmark = pytest.mark.slow


def test_out_writes_the_report_with_a_chart_per_topic(prometheus, tmp_path):
    assert (
        report.main(["dev", "--prometheus", prometheus, "--hours", "4", "--out", str(tmp_path)])
        == 0
    )
    page = (tmp_path / "report.html").read_text()
    for name in report.CHARTS:
        png = tmp_path / f"{name}.png"
        assert f'src="{name}.png"' in page
        with Image.open(png) as image:
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
            assert image.size[0] > 400 and len(colours) > 50, name
        # A series drawn across the plot; log growth compares with the hour before, so it
        # starts 70 minutes into the 3 hours of data.
        assert charts.series_pixels(png) > (300 if name == "log_growth" else 500), name
    assert "EdgeErrorRate" in page and "resolved" in page
    assert "Last successful backup: 2." in page  # about two hours ago


def test_an_alert_shorter_than_a_step_between_two_steps_is_reported(prometheus):
    """A daily report steps 432 s: a one-minute alert between two steps, beyond the instant
    lookback (5 m) of the next one, is still named (each step looks back a whole step)."""
    url = f"{prometheus}/api/v1/query?query={urllib.parse.quote(BLIP + '[1d]')}"
    with urllib.request.urlopen(url) as answer:  # noqa: S310 - the test's own Prometheus
        (blip,) = json.load(answer)["data"]["result"]
    first = float(blip["values"][0][0])
    span = 40 * 3600  # a step of 720 s
    start = report.dt.datetime.fromtimestamp(first - 200 - 10 * 720, report.dt.UTC)
    period = report.Period(start, start + report.dt.timedelta(seconds=span))
    assert period.step == 720  # steps at 200 s before it and 460 s after its last sample
    found = {a["alertname"]: a for a in report.alerts(report.Prometheus(prometheus), period)}
    assert "DiskFull" in found, sorted(found)
    assert found["DiskFull"]["resolved"]


def test_a_chart_with_axes_but_no_data_has_no_series_pixels():
    """The check above (and the e2e's) fails on a chart that draws no data."""
    empty = [{"metric": {}, "values": [[1.7e9 + 60 * i, "NaN"] for i in range(30)]}]
    drawn = [{"metric": {}, "values": [[1.7e9 + 60 * i, str(i % 7)] for i in range(30)]}]
    assert charts.series_pixels(report.chart("Requests", "req/min", empty, "")) == 0
    assert charts.series_pixels(report.chart("Requests", "req/min", drawn, "")) > 500


def test_report_is_sent_through_starttls_and_auth(prometheus, tmp_path):
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(tls)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    (tmp_path / "password").write_text("report-secret\n")
    inbox = smtp.Inbox()
    relay = smtp.Relay(inbox, tls, "alerts@example.com", "report-secret")
    relay.start()
    try:
        end = report.dt.datetime.now(report.dt.UTC)
        period = report.Period(end - report.dt.timedelta(hours=4), end)
        lines = report.thresholds(config.offline("dev").monitoring)
        subject, body, images = report.build(report.Prometheus(prometheus), "dev", period, lines)
        msg = report.message(subject, "alerts@example.com", ["ops@example.com"], body, images)
        report.send(
            msg,
            "localhost",
            relay.port,
            "alerts@example.com",
            str(tmp_path / "password"),
            str(tmp_path / "ca.pem"),
        )
    finally:
        relay.stop()
    (received,) = inbox.messages
    assert received["Subject"].startswith("Ora dev report") and "1 alert(s)" in received["Subject"]
    html_part = received.get_body(preferencelist=("html",))
    pngs = [p for p in received.walk() if p.get_content_type() == "image/png"]
    assert {p["Content-ID"] for p in pngs} == {f"<{n}>" for n in report.CHARTS}
    for name in report.CHARTS:
        assert f"cid:{name}" in html_part.get_content()
    assert inbox.logins == ["LOGIN:alerts@example.com"]
    assert (
        json.dumps(config.offline("dev").monitoring.emails) == "[]"
    )  # dev sends to nobody by default

"""The alert report against a real Prometheus holding three backfilled hours of data."""

import json
import ssl

import pytest
import trustme
from PIL import Image

from infra import config, report
from tests.monitoring import smtp

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
    assert "EdgeErrorRate" in page and "resolved" in page
    assert "Last successful backup: 2." in page  # about two hours ago


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
        subject, body, images = report.build(report.Prometheus(prometheus), "dev", period)
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

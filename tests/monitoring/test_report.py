"""The alert report against a real Prometheus holding three backfilled hours of data."""

import json
import ssl
import subprocess
import time

import pytest
import trustme
from PIL import Image

from infra import config, report
from tests.monitoring import chain, smtp

pytestmark = pytest.mark.slow
HOURS = 3
BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1", "2", "2.5", "5", "10", "+Inf")


def openmetrics(now: int) -> str:
    """HOURS of one-minute samples, ending 5 minutes ago; 502s burst in the middle hour."""
    times = range(now - HOURS * 3600, now - 300, 60)
    burst = range(now - 2 * 3600, now - 3600)
    series: dict[str, list[tuple[int, float]]] = {}

    def counter(name, step_of):
        total, points = 0.0, []
        for t in times:
            total += step_of(t)
            points.append((t, total))
        series[name] = points

    counter('ora_edge_requests_total{status="200"}', lambda t: 600)
    counter('ora_edge_requests_total{status="502"}', lambda t: 120 if t in burst else 3)
    for i, le in enumerate(BUCKETS):
        share = min(1.0, 0.2 * (i + 1)) if le != "+Inf" else 1.0
        counter(
            f'ora_edge_request_duration_seconds_bucket{{le="{le}"}}', lambda t, s=share: 600 * s
        )
    counter('ora_log_bytes_total{stream="scheduler"}', lambda t: 40000 if t in burst else 10000)
    counter('ora_log_bytes_total{stream="app"}', lambda t: 5000)
    fs = 'mountpoint="/",fstype="ext4"'
    series[f"node_filesystem_size_bytes{{{fs}}}"] = [(t, 100e9) for t in times]
    series[f"node_filesystem_avail_bytes{{{fs}}}"] = [
        (t, 40e9 - (t - times[0]) * 1e5) for t in times
    ]
    series["ora_backup_last_success_timestamp_seconds"] = [(t, now - 7200) for t in times]
    firing = 'ALERTS{alertname="EdgeErrorRate",alertstate="firing",severity="critical"}'
    series[firing] = [(t, 1) for t in times if t in burst]
    lines = [f"{name} {value} {t}" for name, points in series.items() for t, value in points]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("report")
    source = directory / "data.om"
    source.write_text(openmetrics(int(time.time())))
    subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(source),
            str(directory / "tsdb"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (directory / "prometheus.yml").write_text("global: {}\n")
    address = f"127.0.0.1:{chain.free_port()}"
    log = directory / "prometheus.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={directory}/prometheus.yml",
                f"--storage.tsdb.path={directory}/tsdb",
                f"--web.listen-address={address}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        chain.wait_http(f"http://{address}/-/ready", process, log)
        yield f"http://{address}"
    finally:
        process.terminate()
        process.wait(timeout=10)


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

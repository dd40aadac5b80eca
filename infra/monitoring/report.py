"""The alert report: a period of Prometheus data as an HTML email with PNG charts.

Queries Prometheus' HTTP API (through infra/monitoring/query.py: alerts fired and resolved
from the ALERTS series, edge error rate, p95/p99, request volume, log bytes and growth per
stream, backup age, disk use), draws one chart per topic with matplotlib (the error-rate,
latency and log-growth charts with their alert's threshold, from the stack's config), and
either writes `report.html` + the PNGs to `--out DIR` or sends them through the stack's SMTP
relay (STARTTLS verified, password from a file).

CLI: `python -m infra.monitoring.report STACK --prometheus URL [--hours 24] [--out DIR]`
(`make report STACK=dev ARGS="--out /tmp/report"`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import io
import json
import smtplib
import ssl
import sys
from email.message import EmailMessage
from pathlib import Path

from infra import config
from infra.config.monitoring import Monitoring
from infra.monitoring import edge_series
from infra.monitoring.query import Period, Prometheus, alerts

W = "10m"  # the operators' monitoring interval
CHARTS = {  # name -> (title, unit, PromQL over the period, legend label)
    "error_rate": (
        "Edge error rate (5xx)",
        "%",
        edge_series.error_percent(W),
        "",
    ),
    "latency": (
        "Edge request time p95 / p99",
        "s",
        " or ".join(
            f"label_replace(histogram_quantile({q}, sum by (le) "
            f'(rate(ora_edge_request_duration_seconds_bucket[{W}]))), "q", "{name}", "", "")'
            for q, name in ((0.95, "p95"), (0.99, "p99"))
        ),
        "q",
    ),
    "requests": (
        "Requests per minute at the edge",
        "req/min",
        edge_series.requests_per_minute(W),
        "",
    ),
    "log_bytes": (
        "Log bytes written per 10 minutes",
        "bytes",
        f"sum by (stream) (increase(ora_log_bytes_total[{W}]))",
        "stream",
    ),
    "log_growth": (  # the LogGrowth alert's figure, with its standard timing
        "Log growth: the last 10 minutes against the hour before's average",
        "%",
        f"100 * (sum by (stream) (increase(ora_log_bytes_total[{W}]))"
        f" / (sum by (stream) (increase(ora_log_bytes_total[1h] offset {W})) / 6) - 1)",
        "stream",
    ),
    "disk": (
        "Disk used",
        "%",
        '100 * (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"}'
        ' / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"})',
        "mountpoint",
    ),
}
THRESHOLD_COLOUR = "#8b0000"  # dark red: in no series' colour cycle


def thresholds(m: Monitoring) -> dict[str, tuple[float, str]]:
    """Chart name -> (the alert's threshold, its legend label), from the stack's config."""
    return {
        "error_rate": (m.error_rate_percent, f"EdgeErrorRate: {m.error_rate_percent} %"),
        "latency": (
            m.response_time_seconds,
            f"EdgeResponseTime (p95): {m.response_time_seconds:g} s",
        ),
        "log_growth": (m.log_growth_percent, f"LogGrowth: {m.log_growth_percent} %"),
    }


BACKUP_AGE = "(time() - max(max_over_time(ora_backup_last_success_timestamp_seconds[1d]))) / 3600"


def chart(
    title: str,
    unit: str,
    result: list[dict],
    legend: str,
    threshold: tuple[float, str] | None = None,
) -> bytes | None:
    """The series as a PNG, with the alert's threshold as a dashed line when given."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    if not result:
        return None
    figure, axes = plt.subplots(figsize=(8, 3), dpi=100)
    for series in result:
        xs = [dt.datetime.fromtimestamp(float(t), dt.UTC) for t, _ in series["values"]]
        ys = [float(v) for _, v in series["values"]]
        axes.plot(xs, ys, label=series["metric"].get(legend, "") if legend else None)
    if threshold is not None:
        value, label = threshold
        axes.axhline(value, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1.5, label=label)
        axes.set_ylim(top=max(axes.get_ylim()[1], value * 1.15))
    axes.set_title(title)
    axes.set_ylabel(unit)
    axes.grid(alpha=0.3)
    if legend or threshold is not None:
        axes.legend(loc="best", fontsize="small")
    figure.autofmt_xdate()
    out = io.BytesIO()
    figure.savefig(out, format="png", bbox_inches="tight")
    plt.close(figure)
    return out.getvalue()


def _state(alert: dict) -> str:
    return f"resolved {alert['last']:%H:%M}" if alert["resolved"] else "still firing"


def build(
    prom: Prometheus, stack: str, period: Period, lines: dict[str, tuple[float, str]]
) -> tuple[str, str, dict[str, bytes]]:
    """(subject, html with `cid:NAME` images, NAME -> PNG); `lines`: thresholds(...)."""
    images = {}
    for name, (title, unit, expr, legend) in CHARTS.items():
        png = chart(title, unit, prom.range(expr, period), legend, lines.get(name))
        if png:
            images[name] = png
    fired = alerts(prom, period)
    backup = prom.instant(BACKUP_AGE, period.end)
    backup_text = f"{float(backup[0]['value'][1]):.1f} h ago" if backup else "no backup metric"
    rows = (
        "".join(
            f"<tr><td>{html.escape(a['alertname'])}</td><td>{html.escape(json.dumps(a['labels']))}</td>"
            f"<td>{a['first']:%Y-%m-%d %H:%M}</td>"
            f"<td>{_state(a)}</td></tr>"
            for a in fired
        )
        or "<tr><td colspan=4>no alert fired</td></tr>"
    )
    charts = "".join(
        f'<h3>{html.escape(CHARTS[n][0])}</h3><img src="cid:{n}" alt="{n}">' for n in images
    )
    span = f"{period.start:%Y-%m-%d %H:%M} to {period.end:%Y-%m-%d %H:%M} UTC"
    subject = f"Ora {stack} report, {span}: {len(fired)} alert(s)"
    body = (
        f"<html><body style='font-family:sans-serif'><h2>Ora {html.escape(stack)}: {span}</h2>"
        f"<h3>Alerts</h3><table border=1 cellpadding=4><tr><th>alert</th><th>labels</th>"
        f"<th>fired</th><th>state</th></tr>{rows}</table>"
        f"<p>Last successful backup: {backup_text}</p>{charts}</body></html>"
    )
    return subject, body, images


def write(directory: Path, body: str, images: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, png in images.items():
        (directory / f"{name}.png").write_bytes(png)
    page = directory / "report.html"
    page.write_text(body.replace('src="cid:', 'src="').replace('" alt=', '.png" alt='))
    return page


def message(
    subject: str, sender: str, to: list[str], body: str, images: dict[str, bytes]
) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, sender, ", ".join(to)
    msg.set_content("The Ora report is HTML with charts; open it in an HTML mail reader.")
    msg.add_alternative(body, subtype="html")
    html_part = msg.get_payload()[1]
    for name, png in images.items():
        html_part.add_related(png, "image", "png", cid=f"<{name}>", filename=f"{name}.png")
    return msg


def send(
    msg: EmailMessage, host: str, port: int, user: str, password_file: str, ca_file: str | None
) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        smtp.starttls(context=context)
        if user:
            smtp.login(user, Path(password_file).read_text().strip())
        smtp.send_message(msg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.monitoring.report")
    parser.add_argument("stack")
    parser.add_argument(
        "--prometheus", default="http://127.0.0.1:9090", help="base URL (make tunnel)"
    )
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument(
        "--out", type=Path, help="write report.html and the PNGs here instead of sending"
    )
    parser.add_argument("--smtp-password-file", default="", help="file holding ora:smtpPassword")
    parser.add_argument("--ca-file", default=None, help="CA bundle that verifies the SMTP relay")
    args = parser.parse_args(argv)
    try:
        stack = config.offline(args.stack)
    except (config.ConfigError, FileNotFoundError) as err:
        print(err, file=sys.stderr)
        return 2
    end = dt.datetime.now(dt.UTC)
    period = Period(end - dt.timedelta(hours=args.hours), end)
    lines = thresholds(stack.monitoring)
    subject, body, images = build(Prometheus(args.prometheus), args.stack, period, lines)
    if args.out:
        print(write(args.out, body, images))
        return 0
    service, to = stack.service, list(stack.monitoring.emails)
    if not service.smtp_host or not to:
        print(
            "ora:smtpHost and ora:alertEmail must be set to send; or use --out DIR", file=sys.stderr
        )
        return 2
    sender = service.smtp_user if "@" in service.smtp_user else f"ora-alerts@{stack.edge.domain}"
    msg = message(subject, sender, to, body, images)
    send(
        msg,
        service.smtp_host,
        service.smtp_port,
        service.smtp_user,
        args.smtp_password_file,
        args.ca_file,
    )
    print(f"sent {subject!r} to {', '.join(to)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

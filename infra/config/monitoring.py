"""The monitoring section of a stack's configuration (Prometheus, Alertmanager, the report):
its value checks and its reader.

Read by `infra.config.parse` through the `Reader`: every value is checked, and a bad one
becomes one problem naming the key, the value and the fix. The `Monitoring` type lives
in types.py, with the other sections; it is handed on from here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from infra.config import checks
from infra.config.checks import Invalid
from infra.config.reader import Reader
from infra.config.types import Monitoring

_DURATION = re.compile(r"^[1-9]\d*(ms|s|m|h|d|w|y)$")  # Prometheus duration (one unit)
_BYTES = re.compile(r"^[1-9]\d*(B|KB|MB|GB|TB|PB)$")  # --storage.tsdb.retention.size units
_SECONDS = re.compile(r"^\d+(\.\d+)?$")
TIMINGS = ("standard", "test")  # infra/monitoring/render.py maps each to a Timing


def prometheus_duration(text: str) -> str:
    if not _DURATION.match(text):
        raise Invalid("is not a Prometheus duration", "use a number and one unit, e.g. 15d or 12h")
    return text


def prometheus_size(text: str) -> str:
    if not _BYTES.match(text):
        raise Invalid("is not a Prometheus size", "use a number and B, KB, MB, GB or TB, e.g. 2GB")
    return text


def seconds(text: str, low: float, high: float) -> float:
    if not _SECONDS.match(text) or not low <= float(text) <= high:
        raise Invalid(
            "is not a number of seconds", f"use a number from {low:g} to {high:g}, e.g. 2"
        )
    return float(text)


def emails(text: str) -> tuple[str, ...]:
    addresses = tuple(a.strip() for a in text.split(",") if a.strip())
    for address in addresses:
        checks.email(address)
    return addresses


def pem_certificates(text: str) -> str:
    if text and "-----BEGIN CERTIFICATE-----" not in text:
        raise Invalid("is not a PEM certificate", "paste the CA's PEM, or leave it empty")
    return text


def runbook_url(text: str) -> str:
    """Empty, or an https URL the alert emails can append `#section` to."""
    if not text:
        return text
    parts = urlsplit(text)
    unsafe = any(c.isspace() or c in "\"'<>{}" for c in text)
    if parts.scheme != "https" or not parts.hostname or parts.query or "#" in text or unsafe:
        raise Invalid(
            "is not an https URL without a query or #section",
            "use where docs/runbook.md is read, e.g. "
            "https://git.example.com/ops/ora-infra/blob/main/docs/runbook.md, or leave it empty",
        )
    return text


def read(r: Reader, smtp_host: str) -> Monitoring:
    monitoring = Monitoring(
        enabled=r.get("monitoring", checks.boolean, True),
        error_rate_percent=r.get("alertErrorRate", lambda v: checks.integer(v, 1, 100), 10),
        response_time_seconds=r.get("alertResponseTime", lambda v: seconds(v, 0.05, 60), 2.0),
        log_growth_percent=r.get("alertThreshold", lambda v: checks.integer(v, 1, 100), 50),
        log_growth_floor_bytes=r.get(
            "alertLogFloorBytes", lambda v: checks.integer(v, 0, 10**12), 102400
        ),
        queue_depth=r.get("alertQueueDepth", lambda v: checks.integer(v, 1, 10**9), 100),
        dead_letters=r.get("alertDeadLetters", lambda v: checks.integer(v, 0, 10**9), 0),
        job_failure_percent=r.get("alertJobFailureRate", lambda v: checks.integer(v, 1, 100), 50),
        emails=r.get("alertEmail", emails, ()),
        retention=r.get("prometheusRetention", prometheus_duration, "15d"),
        retention_size=r.get("prometheusRetentionSize", prometheus_size, "2GB"),
        grafana=r.get("grafana", checks.boolean, True),
        timing=r.get("monitoringTiming", lambda v: checks.choice(v, TIMINGS), "standard"),
        smtp_ca_certificate=r.get("smtpCaCertificate", pem_certificates, ""),
        runbook_url=r.get("runbookUrl", runbook_url, ""),
    )
    if monitoring.enabled and smtp_host and not r.text("alertEmail").strip():
        missing = Invalid(
            "is empty but ora:smtpHost is set, so alerts would have no recipient",
            "pulumi config set ora:alertEmail ops@example.com (comma-separated for several)",
        )
        r.fail("alertEmail", "''", missing)
    return monitoring

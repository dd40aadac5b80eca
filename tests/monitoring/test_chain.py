"""The real alert chain: nginx JSON access log -> mtail -> Prometheus (the rendered rules) ->
Alertmanager (the rendered config) -> SMTP with STARTTLS and AUTH LOGIN -> one email."""

import json
import ssl
import time

import pytest
import trustme

from infra import config
from tests.monitoring import chain, smtp

pytestmark = pytest.mark.slow
PASSWORD = "test-secret"  # what rendered.local_runtime writes to secrets/smtp-password


def access_line(status: int, seconds: float = 0.01) -> str:
    return (
        json.dumps(
            {
                "time": "2026-01-01T00:00:00+00:00",
                "request_id": "r",
                "remote_addr": "127.0.0.1",
                "host": "localhost",
                "method": "GET",
                "path": "/api/search",
                "protocol": "HTTP/2.0",
                "status": status,
                "body_bytes_sent": 10,
                "request_time": seconds,
                "upstream_addr": "10.0.0.2:8000",
                "upstream_status": str(status),
                "upstream_response_time": str(seconds),
                "user_agent": "test",
            },
            separators=(",", ":"),
        )
        + "\n"
    )


@pytest.fixture
def relay(tmp_path):
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    inbox = smtp.Inbox()
    server = smtp.Relay(inbox, tls, "alerts@example.com", PASSWORD)
    server.start()
    yield inbox, server.port, str(ca_file)
    server.stop()


def wait_for(inbox, predicate, timeout):
    deadline = time.monotonic() + timeout
    with inbox.arrived:
        while not (found := [m for m in inbox.messages if predicate(m)]):
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            inbox.arrived.wait(left)
    return found


def dev_config(port: int):
    raw, _ = config.read_stack_file("dev")
    raw = {
        **raw,
        "smtpHost": "localhost",
        "smtpPort": str(port),
        "smtpUser": "alerts@example.com",
        "alertEmail": "ops@example.com",
    }
    return config.parse("dev", raw, secrets_set=frozenset(config.schema.secret_keys()))


def test_error_burst_sends_one_email_then_a_resolved_notice(relay, tmp_path):
    inbox, port, ca_file = relay
    stack_config = dev_config(port)
    threshold = stack_config.monitoring.error_rate_percent
    running = chain.start(stack_config, tmp_path, ca_file, logs=[])
    try:
        with running.access_log.open("a") as log:
            for _ in range(20):  # healthy traffic first: the 200 series exists
                log.write(access_line(200))
                log.flush()
                time.sleep(0.1)
            first_failure = time.monotonic()
            for _ in range(30):  # 50 % of requests answer 502
                log.write(access_line(502) + access_line(200))
                log.flush()
                time.sleep(0.1)
        firing = wait_for(inbox, lambda m: m["Subject"].startswith("[FIRING"), timeout=60)
        elapsed = time.monotonic() - first_failure
        print(f"\nfirst failing request -> alert email: {elapsed:.1f} s (timings {chain.FAST})")
        assert firing, running.diagnose()
        message = firing[0]
        body = smtp.text_of(message)
        print(f"subject: {message['Subject']}\n{body}")
        assert message["Subject"] == "[FIRING:1] EdgeErrorRate on dev"
        assert message["To"] == "ops@example.com"
        assert "EdgeErrorRate (critical) is firing" in body
        assert f"threshold: {threshold} %" in body
        value = float(body.split("value: ")[1].split(" %")[0])
        assert value > threshold
        # No ora:runbookUrl in dev: the runbook is named by its path and section.
        assert 'runbook: docs/runbook.md, section "edgeerrorrate"' in body, body
        assert "viewPanel=2" in body
        with running.access_log.open("a") as log:  # the burst is over
            for _ in range(40):
                log.write(access_line(200))
                log.flush()
                time.sleep(0.1)
        resolved = wait_for(inbox, lambda m: m["Subject"].startswith("[RESOLVED"), timeout=60)
        assert resolved, "no resolved notice"
        assert resolved[0]["Subject"] == "[RESOLVED] EdgeErrorRate on dev"
        notice = smtp.text_of(resolved[0])
        print(notice)
        # The annotations are the last firing evaluation's: no value, only that it is over.
        assert f"back within its threshold ({threshold} %)" in notice, notice
        assert "value:" not in notice and "answered 5xx" not in notice, notice
        assert "firing from " in notice, notice
        subjects = [m["Subject"] for m in inbox.messages]
        assert subjects.count("[FIRING:1] EdgeErrorRate on dev") == 1, subjects
        assert inbox.logins and inbox.logins[0].startswith("LOGIN:")
    finally:
        running.stop()


def test_a_first_burst_between_two_scrapes_is_seen(relay, tmp_path):
    """No request before: the whole burst lands between two scrapes. A per-status series
    would be born at the burst's size, a step rate() never counts (the swarm e2e's first
    run missed its burst so); the rule reads series that exist at 0 from mtail's start."""
    inbox, port, ca_file = relay
    running = chain.start(dev_config(port), tmp_path, ca_file, logs=[])
    try:
        with running.access_log.open("a") as log:
            log.write(access_line(502) * 60)
        firing = wait_for(inbox, lambda m: m["Subject"].startswith("[FIRING"), timeout=60)
        assert firing, running.diagnose()
        assert firing[0]["Subject"] == "[FIRING:1] EdgeErrorRate on dev"
    finally:
        running.stop()

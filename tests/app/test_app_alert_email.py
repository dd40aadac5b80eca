"""Alert email over STARTTLS verifies the relay's certificate, against a real aiosmtpd
server with certificates from trustme; the trusted CA reaches ssl through SSL_CERT_FILE."""

import ssl

import pytest
import trustme
from aiosmtpd.controller import Controller
from conftest import SECRET_KEY, free_port
from ora.jobs import open_smtp, send_alert_email
from ora.settings import load_settings

REPORT = {"failure_pct": 80.0, "window_runs": 5, "alert": True}


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content.decode())
        return "250 OK"


@pytest.fixture
def trusted_ca(tmp_path, monkeypatch):
    ca = trustme.CA()
    path = tmp_path / "trusted-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    return ca


def relay(ca: trustme.CA, identity: str, implicit_tls: bool = False):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(identity).configure_cert(context)
    inbox = Inbox()
    tls = {"ssl_context": context} if implicit_tls else {"tls_context": context}
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), require_starttls=not implicit_tls, **tls
    )
    return controller, inbox


def settings_for(controller):
    return load_settings(
        {
            "REDIS_HOST": "redis",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "ora.example.com",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(controller.port),
            "ALERT_EMAIL_TO": "ops@example.com",
        }
    )


def send_through(ca, identity):
    controller, inbox = relay(ca, identity)
    controller.start()
    try:
        send_alert_email(settings_for(controller), REPORT)
    finally:
        controller.stop()
    return inbox.messages


def test_a_relay_with_a_trusted_certificate_gets_the_alert(trusted_ca):
    [message] = send_through(trusted_ca, "127.0.0.1")
    assert "failure_pct: 80.0" in message
    assert "To: ops@example.com" in message


@pytest.mark.parametrize(
    "case", ["certificate from an untrusted CA", "trusted CA, another host name"]
)
def test_a_relay_that_cannot_be_verified_is_refused(trusted_ca, case):
    untrusted = case.startswith("certificate from")
    ca = trustme.CA() if untrusted else trusted_ca
    identity = "127.0.0.1" if untrusted else "smtp.other.example"
    with pytest.raises(ssl.SSLCertVerificationError):
        send_through(ca, identity)


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "untrusted CA"])
def test_implicit_tls_verifies_the_relay_too(trusted_ca, trusted):
    controller, inbox = relay(trusted_ca if trusted else trustme.CA(), "127.0.0.1", True)
    controller.start()
    try:
        context = ssl.create_default_context()
        if not trusted:
            with pytest.raises(ssl.SSLCertVerificationError):
                open_smtp("127.0.0.1", controller.port, True, context)
            return
        with open_smtp("127.0.0.1", controller.port, True, context) as smtp:
            smtp.sendmail("ora@example.com", ["ops@example.com"], "Subject: t\r\n\r\nbody")
    finally:
        controller.stop()
    assert len(inbox.messages) == 1

"""The e2e's SMTP relay: aiosmtpd with STARTTLS and AUTH LOGIN (tests/monitoring/smtp.py) on
the host's own address, which the containers on the edge network reach through the bridge.
Its trustme CA goes to the stack as ora:smtpCaCertificate, the login as ora:smtpUser and
ora:smtpPassword (a secret): the stack's Alertmanager sends to it as it would to a relay."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

import trustme

from tests.monitoring import smtp

USER = "alerts@example.com"
PASSWORD = "e2e-smtp-password-0123456789"
RECIPIENT = "ops@example.com"


def host_address() -> str:
    """The address of the interface holding the default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("198.51.100.1", 9))  # TEST-NET-2: any routed address
        return probe.getsockname()[0]


@dataclass
class AlertRelay:
    inbox: smtp.Inbox
    server: smtp.Relay
    address: str
    ca_pem: str

    @property
    def overrides(self) -> dict[str, str]:
        return {
            "smtpHost": self.address,
            "smtpPort": str(self.server.port),
            "smtpUser": USER,
            "smtpPassword": PASSWORD,
            "alertEmail": RECIPIENT,
            "smtpCaCertificate": self.ca_pem,
        }


def start() -> AlertRelay:
    address = host_address()
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(address).configure_cert(tls)
    inbox = smtp.Inbox()
    server = smtp.Relay(inbox, tls, USER, PASSWORD, host=address)
    server.start()
    return AlertRelay(inbox, server, address, ca.cert_pem.bytes().decode())

"""What `make status` asks of a stack's public URL: its HTTP status and its certificate."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request

from cryptography import x509

from infra.ops import commands as ops


def http_status(url: str) -> str:
    """The public URL's HTTP status, whatever its certificate (status reports, not trust)."""
    context = ssl._create_unverified_context()  # noqa: S323 - reports status, not trust
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:  # noqa: S310
            return str(response.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except OSError as error:
        return f"unreachable ({error})"


def certificate(url: str, now: dt.datetime) -> str:
    """The served certificate's days left, and whether this machine trusts it."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or 443
    try:
        with socket.create_connection((host, port), timeout=10) as raw:
            unverified = ssl._create_unverified_context()  # noqa: S323 - read the cert only
            with unverified.wrap_socket(raw, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except OSError as error:
        return f"certificate: unreachable ({error})"
    cert = x509.load_der_x509_certificate(der)
    try:
        with socket.create_connection((host, port), timeout=10) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname=host).close()
        trust = "trusted"
    except ssl.SSLError as error:
        trust = f"not trusted here: {error.reason}"
    left = ops.days_left(cert.not_valid_after_utc, now)
    return f"certificate: {left} days left (until {cert.not_valid_after_utc:%Y-%m-%d}), {trust}"

"""Pure value checks: each returns the parsed value or raises `Invalid` with the reason
and the fix; the reader adds the key and the offending value to the message.

Numbers, booleans, choices, names, addresses, URLs, SSH public keys, sizes, versions,
schedules and image references. Imports nothing of the project: every section reader
stands on it. The checks of one theme used by one module live there: certificates in
certificates.py, the off-host backup copy's in offsite.py, apiKeys' in apikeys.py.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse


class Invalid(ValueError):
    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SIZE = re.compile(r"^(\d+)([bkmg]?)$")
_RATE = re.compile(r"^[1-9]\d*r/[sm]$")
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
_IMAGE = re.compile(
    r"^(?P<name>[a-z0-9]+([._/-][a-z0-9]+)*(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*)"
    r"(:(?P<tag>[\w][\w.-]{0,127}))?"
    r"(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_BOOLEANS = {"true": True, "false": False}
_UNITS_MB = {"b": 1 / (1024 * 1024), "k": 1 / 1024, "": 1 / (1024 * 1024), "m": 1, "g": 1024}


def integer(text: str, low: int, high: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise Invalid("is not a whole number", f"use a whole number from {low} to {high}") from None
    if not low <= value <= high:
        raise Invalid(f"is outside {low}..{high}", f"use a whole number from {low} to {high}")
    return value


def boolean(text: str) -> bool:
    value = _BOOLEANS.get(str(text).strip().lower())
    if value is None:
        raise Invalid("is not a boolean", "use true or false")
    return value


def choice(text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise Invalid("is not a known value", f"use one of: {', '.join(allowed)}")
    return text


def dns_name(text: str) -> str:
    name = text.strip().lower().rstrip(".")
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise Invalid(
            "is not a valid DNS name",
            "use letters, digits and hyphens in dot-separated labels, e.g. ora.example.com",
        )
    return name


def host_pattern(text: str) -> str:
    wildcard = text.startswith("*.")
    return ("*." if wildcard else "") + dns_name(text[2:] if wildcard else text)


def host_or_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return dns_name(text)


def ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise Invalid("is not an IP address", "use e.g. 0.0.0.0, 127.0.0.1 or ::") from None


def unix_user(text: str) -> str:
    if not _USER.match(text):
        raise Invalid("is not a valid user name", "use lowercase letters, digits, - and _")
    return text


def email(text: str) -> str:
    if not _EMAIL.match(text):
        raise Invalid("is not an email address", "use e.g. ops@example.com")
    return text


_SSH_KEY_TYPES = (
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-rsa",
)


def ssh_public_keys(text: str) -> tuple[str, ...]:
    """OpenSSH public key lines (`TYPE BASE64 [COMMENT]`), one per line; empty is none."""
    import base64
    import binascii
    import struct

    fix = "use the .pub file's line, e.g. ssh-ed25519 AAAAC3Nza… ops@laptop (one key a line)"
    keys = []
    for number, line in enumerate(str(text).strip().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or parts[0] not in _SSH_KEY_TYPES:
            raise Invalid(f"line {number} is not an OpenSSH public key ({parts[0][:20]}…)", fix)
        try:
            blob = base64.b64decode(parts[1], validate=True)
            (length,) = struct.unpack(">I", blob[:4])
            embedded = blob[4 : 4 + length].decode()
        except (binascii.Error, struct.error, UnicodeDecodeError):
            raise Invalid(f"line {number}: the key data is not valid base64", fix) from None
        if embedded != parts[0]:
            raise Invalid(f"line {number}: the key data says {embedded!r}, not {parts[0]!r}", fix)
        keys.append(" ".join(parts[:3]))
    return tuple(keys)


def memory_mb(text: str, minimum_mb: int) -> int:
    match = _SIZE.match(str(text).strip().lower())
    if not match:
        raise Invalid("is not a memory size", "use a number with b, k, m or g, e.g. 512m or 1g")
    mb = int(int(match.group(1)) * _UNITS_MB[match.group(2)])
    if mb < minimum_mb:
        raise Invalid(f"is below the minimum of {minimum_mb}m", f"use at least {minimum_mb}m")
    return mb


def nginx_size(text: str) -> str:
    if not re.match(r"^[1-9]\d*[kKmMgG]?$", text):
        raise Invalid("is not an nginx size", "use e.g. 10m, 512k or 1g")
    return text


def nginx_rate(text: str) -> str:
    if not _RATE.match(text):
        raise Invalid("is not an nginx rate", "use requests per second or minute, e.g. 10r/s")
    return text


def nginx_workers(text: str) -> str:
    value = str(text).strip()
    if value == "auto":
        return value
    try:
        return str(integer(value, 1, 64))
    except Invalid:
        raise Invalid(
            "is neither auto nor a worker count", "use auto or a whole number from 1 to 64"
        ) from None


def version(text: str) -> tuple[int, ...]:
    if not _VERSION.match(text):
        raise Invalid("is not a version number", "use the dotted version, e.g. 1.29.1")
    return tuple(int(part) for part in text.split("."))


def on_calendar(text: str) -> str:
    if not re.match(r"^[A-Za-z0-9*:,./~ -]+$", text) or not text.strip():
        raise Invalid(
            "is not a systemd OnCalendar expression", "use e.g. '*-*-* 03:17:00' or daily"
        )
    return text


def image_ref(text: str, *, require_digest: bool) -> str:
    match = _IMAGE.match(text)
    if not match or not (match.group("tag") or match.group("digest")):
        raise Invalid("is not an image reference with a tag", "use name:tag@sha256:<64 hex>")
    if require_digest and not match.group("digest"):
        raise Invalid(
            "is not pinned by digest",
            "push the image from CI and set the reference it printed, name@sha256:<64 hex>",
        )
    return text


def absolute_path(text: str) -> str:
    if not re.fullmatch(r"(/[A-Za-z0-9._-]+)+/?", text):
        raise Invalid("is not an absolute path", "use e.g. /var/lib/prometheus/node-exporter")
    return text


# What a URL may hold here: RFC 3986's unreserved and delimiter characters, less those a
# shell reads ($ & ' ( ) * ; ! and the backtick), so it stays inert in a command line.
_URL = re.compile(r"[A-Za-z0-9._~:/?#\[\]@%+,=-]+")
_ACME_FIX = "use the CA's ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory"


def https_url(text: str) -> str:
    """An https URL with a host, and nothing a shell would expand (ora:acmeServer)."""
    if not _URL.fullmatch(text):
        raise Invalid("holds whitespace, a quote or a shell metacharacter", _ACME_FIX)
    parts = urllib.parse.urlsplit(text)
    if parts.scheme != "https":
        raise Invalid("is not an https URL", _ACME_FIX)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise Invalid("has a port that is not a number", _ACME_FIX) from None
    if not parts.hostname:
        raise Invalid("has no host", _ACME_FIX)
    return text


def secret_fix(key: str) -> str:
    """How to set a secret without it landing in the shell's history."""
    return f"pulumi config set --secret ora:{key} (value read from the prompt)"

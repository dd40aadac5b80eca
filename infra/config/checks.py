"""Pure value checks used by infra/config/__init__.py.

Each check returns the parsed value or raises `Invalid` with the reason and the
fix; config.py adds the key and the offending value to the message.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


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


def certificate_pair(cert_pem: str, key_pem: str, domain: str, now: dt.datetime) -> None:
    """Checks a provided certificate: parseable, current, covering the domain,
    and matching the private key. The PEM text is never part of a message."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError:
        raise Invalid("is not a PEM certificate", "set the PEM chain, leaf first") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise Invalid(
            "tlsPrivateKey is not an unencrypted PEM private key",
            "set the key with `pulumi config set --secret ora:tlsPrivateKey < key.pem`",
        ) from None
    if cert.not_valid_after_utc <= now:
        raise Invalid(
            f"expired on {cert.not_valid_after_utc:%Y-%m-%d}", "renew the certificate, or use acme"
        )
    if not _public_numbers_match(cert.public_key(), key.public_key()):
        raise Invalid(
            "does not match tlsPrivateKey", "set the key that belongs to this certificate"
        )
    names = _certificate_names(cert)
    if not any(_name_covers(name, domain) for name in names):
        raise Invalid(
            f"does not cover the domain {domain!r} (it names {', '.join(names) or 'nothing'})",
            "issue a certificate for the domain, or set ora:domain to a name it covers",
        )


def _public_numbers_match(cert_key: object, private_key_public: object) -> bool:
    if isinstance(cert_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return cert_key.public_numbers() == private_key_public.public_numbers()
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    return cert_key.public_bytes(*raw) == private_key_public.public_bytes(*raw)


def _certificate_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        return [name.lower() for name in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        return [
            a.value.lower() for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        ]


def _name_covers(pattern: str, domain: str) -> bool:
    if pattern.startswith("*."):
        head, _, tail = domain.partition(".")
        return bool(head) and tail == pattern[2:]
    return pattern == domain


def absolute_path(text: str) -> str:
    if not re.fullmatch(r"(/[A-Za-z0-9._-]+)+/?", text):
        raise Invalid("is not an absolute path", "use e.g. /var/lib/prometheus/node-exporter")
    return text


_KNOWN_HOST = re.compile(
    r"[A-Za-z0-9.,:\[\]*_-]+ (ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*"
)


def known_hosts(text: str) -> str:
    """Empty, or known_hosts lines (HOSTS KEYTYPE BASE64) of the off-host SFTP server."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if any(not _KNOWN_HOST.fullmatch(line) for line in lines):
        raise Invalid(
            "is not a list of known_hosts lines (HOST KEYTYPE BASE64)",
            "use the output of: ssh-keyscan -t ed25519 vault.example.net",
        )
    return "\n".join(lines)


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


_RESTIC_BACKENDS = ("sftp:", "s3:", "b2:", "azure:", "gs:", "rest:", "rclone:", "swift:")


# The password of a URL's userinfo: scheme://user:password@ (rest:https://…, sftp://…) or
# sftp:user:password@host:/path; backup.sh hides the same in its messages.
_USERINFO_PASSWORD = re.compile(
    r"^(?P<before>(?:[a-z0-9]+:(?:[a-z][a-z0-9+.-]*:)?//|sftp:)[^/@:]*):(?P<password>[^/@]*)@"
)
_LOGINS = {
    "sftp:": "an sftp repository logs in with the key in ora:backupOffsiteSshKey",
    "s3:": "an s3 repository's credentials are ora:backupOffsiteS3AccessKeyId and"
    " ora:backupOffsiteS3SecretAccessKey",
}
_OTHER_LOGIN = (
    "put the credentials in /opt/ora/backup.env (root, 0600), which backup.sh reads after"
    " backup.conf: RESTIC_REST_USERNAME and RESTIC_REST_PASSWORD where the host's restic"
    " reads them (Debian 12's 0.14 does not), else the whole URL as"
    " ORA_BACKUP_OFFSITE_REPOSITORY=rest:https://USER:PASSWORD@HOST/PATH"
)


def without_password(url: str) -> str:
    """`url` with its userinfo password, if any, shown as ***."""
    return _USERINFO_PASSWORD.sub(r"\g<before>:***@", url, count=1)


def restic_repository(text: str) -> str:
    """Empty (no off-host copy) or a remote restic repository URL, safe in a settings file
    (no password: the stack config and backup.conf are not where secrets live)."""
    if _USERINFO_PASSWORD.match(text):
        login = next((v for k, v in _LOGINS.items() if text.startswith(k)), _OTHER_LOGIN)
        raise Invalid("carries a password in the URL", f"remove it; {login}")
    # An IPv6 host comes in brackets (sftp:backup@[2001:db8::1]:/srv/ora); nothing else may.
    plain = re.sub(r"@\[[0-9A-Fa-f:.]+\]", "@host", text, count=1)
    if text and (
        not text.startswith(_RESTIC_BACKENDS) or not re.fullmatch(r"[A-Za-z0-9@:/._~+-]+", plain)
    ):
        raise Invalid(
            "is not a remote restic repository",
            "use e.g. sftp:backup@vault.example.net:/srv/ora, sftp:backup@[2001:db8::1]:/srv/ora"
            " or s3:s3.amazonaws.com/bucket/ora",
        )
    return text

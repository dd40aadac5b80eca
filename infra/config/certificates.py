"""A provided TLS certificate (ora:tlsMode provided): the pair's checks, and the rule that
both secrets are set and belong together. The PEM text is never part of a message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from infra.config.checks import Invalid, secret_fix
from infra.config.reader import Reader
from infra.config.types import StackConfig

PEM_KEYS = ("tlsCertificate", "tlsPrivateKey")


def check_provided(
    r: Reader, config: StackConfig, pem: Mapping[str, str], now: dt.datetime
) -> None:
    """The rule across sections: tlsMode provided needs both secrets, current and matching."""
    if config.edge.tls_mode != "provided":
        return
    missing = [k for k in PEM_KEYS if k not in pem]
    for key in missing:
        why = Invalid("is required when tlsMode is provided", f"{secret_fix(key)} < file.pem")
        r.fail(key, "<unset>", why)
    if missing:
        return
    try:
        certificate_pair(pem["tlsCertificate"], pem["tlsPrivateKey"], config.edge.domain, now)
    except Invalid as err:
        r.fail("tlsCertificate", "<certificate>", err)


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

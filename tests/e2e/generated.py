"""Values pulumi-random and pulumi-tls would generate, made for real from the declared inputs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import string
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.e2e.containers import check_keys

PASSWORD_KEYS = {
    "length",
    "special",
    "upper",
    "lower",
    "numeric",
    "number",
    "overrideSpecial",
    "minUpper",
    "minLower",
    "minNumeric",
    "minSpecial",
}
KEY_KEYS = {"algorithm", "ecdsaCurve", "rsaBits"}
CERT_KEYS = {
    "privateKeyPem",
    "subject",
    "dnsNames",
    "ipAddresses",
    "validityPeriodHours",
    "earlyRenewalHours",
    "allowedUses",
    "isCaCertificate",
    "setSubjectKeyId",
}
SUBJECT = {
    "commonName": NameOID.COMMON_NAME,
    "organization": NameOID.ORGANIZATION_NAME,
    "organizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "country": NameOID.COUNTRY_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "province": NameOID.STATE_OR_PROVINCE_NAME,
}
CURVES = {"P224": ec.SECP224R1, "P256": ec.SECP256R1, "P384": ec.SECP384R1, "P521": ec.SECP521R1}


def random_password(urn: str, inputs: dict[str, Any]) -> dict[str, Any]:
    check_keys(urn, inputs, PASSWORD_KEYS)
    alphabet = ""
    if inputs.get("upper", True):
        alphabet += string.ascii_uppercase
    if inputs.get("lower", True):
        alphabet += string.ascii_lowercase
    if inputs.get("numeric", inputs.get("number", True)):
        alphabet += string.digits
    if inputs.get("special", True):
        alphabet += inputs.get("overrideSpecial", "!@#$%&*()-_=+[]{}<>:?")
    result = "".join(secrets.choice(alphabet) for _ in range(int(inputs["length"])))
    return {**inputs, "result": result, "bcryptHash": ""}


def private_key(urn: str, inputs: dict[str, Any]) -> dict[str, Any]:
    check_keys(urn, inputs, KEY_KEYS)
    algorithm = inputs["algorithm"]
    if algorithm == "ECDSA":
        key = ec.generate_private_key(CURVES[inputs.get("ecdsaCurve", "P224")]())
        legacy = serialization.PrivateFormat.TraditionalOpenSSL
    elif algorithm == "RSA":
        key = rsa.generate_private_key(65537, int(inputs.get("rsaBits", 2048)))
        legacy = serialization.PrivateFormat.TraditionalOpenSSL
    elif algorithm == "ED25519":
        key = ed25519.Ed25519PrivateKey.generate()
        legacy = serialization.PrivateFormat.PKCS8
    else:
        raise ValueError(f"{urn}: algorithm {algorithm!r} is not one pulumi-tls knows")
    pem = serialization.Encoding.PEM
    none = serialization.NoEncryption()
    public = key.public_key()
    return {
        **inputs,
        "privateKeyPem": key.private_bytes(pem, legacy, none).decode(),
        "privateKeyPemPkcs8": key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, none
        ).decode(),
        "publicKeyPem": public.public_bytes(
            pem, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "publicKeyOpenssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode(),
    }


def self_signed_cert(urn: str, inputs: dict[str, Any]) -> dict[str, Any]:
    check_keys(urn, inputs, CERT_KEYS)
    key = serialization.load_pem_private_key(inputs["privateKeyPem"].encode(), password=None)
    subject = inputs.get("subject") or {}
    check_keys(f"{urn}.subject", subject, set(SUBJECT))
    name = x509.Name([x509.NameAttribute(SUBJECT[k], v) for k, v in subject.items()])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    end = now + dt.timedelta(hours=float(inputs["validityPeriodHours"]))
    sans = [x509.DNSName(d) for d in inputs.get("dnsNames", [])]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in inputs.get("ipAddresses", [])]
    uses = set(inputs.get("allowedUses", []))
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(end)
        .add_extension(
            x509.BasicConstraints(ca=bool(inputs.get("isCaCertificate")), path_length=None), True
        )
        .add_extension(_key_usage(uses), True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), False)
    if "server_auth" in uses:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False
        )
    signing = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(key, signing)
    return {
        **inputs,
        "certPem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "validityStartTime": now.isoformat(),
        "validityEndTime": end.isoformat(),
        "readyForRenewal": False,
    }


def _key_usage(uses: set[str]) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature="digital_signature" in uses,
        content_commitment=False,
        key_encipherment="key_encipherment" in uses,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign="cert_signing" in uses,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )

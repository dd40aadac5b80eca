"""The certificate nginx serves.

- self-signed: an ECDSA P-256 key and a certificate from pulumi-tls (dev), kept
  in state and renewed by `pulumi up` 30 days before it expires;
- provided: the operator's PEM chain and key, both secrets (validated in config).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

VALIDITY_HOURS = 90 * 24
RENEW_BEFORE_HOURS = 30 * 24


@dataclass(frozen=True)
class TlsArgs:
    mode: str
    domain: str
    provided: Mapping[str, pulumi.Output]


class Tls(pulumi.ComponentResource):
    certificate_pem: pulumi.Output
    private_key_pem: pulumi.Output

    def __init__(self, name: str, args: TlsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Tls", name, None, opts)
        if args.mode == "provided":
            self.certificate_pem = args.provided["tlsCertificate"]
            self.private_key_pem = pulumi.Output.secret(args.provided["tlsPrivateKey"])
        else:
            self.certificate_pem, self.private_key_pem = self._self_signed(name, args.domain)
        self.register_outputs({"mode": args.mode, "certificatePem": self.certificate_pem})

    def _self_signed(self, name: str, domain: str) -> tuple[pulumi.Output, pulumi.Output]:
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        cert = tls.SelfSignedCert(
            f"{name}-cert",
            private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=domain, organization="Ora"),
            dns_names=[domain],
            validity_period_hours=VALIDITY_HOURS,
            early_renewal_hours=RENEW_BEFORE_HOURS,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            opts=child,
        )
        return cert.cert_pem, pulumi.Output.secret(key.private_key_pem)

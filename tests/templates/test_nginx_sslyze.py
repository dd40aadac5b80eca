"""sslyze grades the real nginx, serving each stack's rendering, against Mozilla's server-side
TLS 6.0 intermediate profile (data/mozilla-intermediate-6.0.json), with an RSA and an ECDSA
certificate. Run with `-s` to see each verdict."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pki
import pytest
from edge_harness import NginxProcess
from nginx_binaries import NginxBinary
from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    ServerNotCompliantWithTlsConfiguration,
    TlsConfigurationAsJson,
    check_server_against_tls_configuration,
)

from infra import config

PROFILE = Path(__file__).parent / "data" / "mozilla-intermediate-6.0.json"


def mozilla_issues(port: int, ca_file: Path) -> dict[str, str]:
    """sslyze's findings against the 6.0 intermediate profile; {} when compliant."""
    profile = TlsConfigurationAsJson.model_validate_json(PROFILE.read_text())
    location = ServerNetworkLocation("localhost", port, ip_address="127.0.0.1")
    request = ServerScanRequest(
        server_location=location,
        network_configuration=ServerNetworkConfiguration("localhost"),
        scan_commands=SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca_file)
        ),
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    (result,) = scanner.get_results()
    try:
        check_server_against_tls_configuration(result, profile)
    except ServerNotCompliantWithTlsConfiguration as failure:
        return failure.issues
    return {}


# sslyze's bundled trust stores hold a root with a non-positive serial number.
@pytest.mark.filterwarnings(
    "ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning"
)
@pytest.mark.parametrize("key_type", ["RSA", "ECDSA"])
@pytest.mark.parametrize("stack", config.known_stacks())
def test_sslyze_finds_the_edge_compliant_with_mozilla_intermediate_6_0(
    stack: str,
    key_type: str,
    nginx_binary: NginxBinary,
    start_nginx: Callable[..., NginxProcess],
) -> None:
    # host: the stack for its own (older) features; sid: the stack's own rendering.
    # Not trustme's: sslyze's path validation (RFC 5280) refuses its leaves (see pki).
    certificate = pki.issue(key_type)
    edge = start_nginx(nginx_binary.feature_set(config.offline(stack)), certificate=certificate)
    ca_file = edge.tree.root / "ca.pem"
    ca_file.write_bytes(certificate.ca_pem)
    issues = mozilla_issues(edge.tree.runtime.listen_https, ca_file)
    verdict = "compliant" if not issues else f"NOT compliant: {issues}"
    print(f"\n[sslyze, {nginx_binary.name} nginx, {stack}, {key_type}] {verdict}")
    assert issues == {}

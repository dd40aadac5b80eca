"""sslyze grades the real nginx, serving each stack's rendering, against Mozilla's server-side
TLS 6.0 intermediate profile (data/mozilla-intermediate-6.0.json), with an RSA and an ECDSA
certificate. Run with `-s` to see each verdict."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
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
# Not about the server: trustme's leaf marks its subjectAltName critical beside a non-empty
# subject, which cryptography's RFC 5280 verifier (sslyze's) refuses even with the test CA
# trusted. Every other finding (versions, suites, groups, key sizes, signatures, lifespan,
# TLS vulnerabilities) counts.
TEST_CA_ONLY = "certificate_path_validation"


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
        return {key: issue for key, issue in failure.issues.items() if key != TEST_CA_ONLY}
    return {}


# sslyze's bundled trust stores hold a root with a non-positive serial number.
@pytest.mark.filterwarnings(
    "ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning"
)
@pytest.mark.parametrize("key_type", [trustme.KeyType.RSA, trustme.KeyType.ECDSA])
@pytest.mark.parametrize("stack", config.known_stacks())
def test_sslyze_finds_the_edge_compliant_with_mozilla_intermediate_6_0(
    stack: str,
    key_type: trustme.KeyType,
    nginx_binary: NginxBinary,
    start_nginx: Callable[..., NginxProcess],
) -> None:
    # host: the stack for its own (older) features; sid: the stack's own rendering.
    edge = start_nginx(nginx_binary.feature_set(config.offline(stack)), key_type=key_type)
    issues = mozilla_issues(edge.tree.runtime.listen_https, edge.tree.root / "tls" / "ca.pem")
    verdict = "compliant" if not issues else f"NOT compliant: {issues}"
    print(f"\n[sslyze, {nginx_binary.name} nginx, {stack}, {key_type.name}] {verdict}")
    assert issues == {}

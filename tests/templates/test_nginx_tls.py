"""TLS as the real nginx offers it: protocol versions, and a record of suites and groups.

Run with `-s` to see the record (`pytest -s -k offered tests/templates/test_nginx_tls.py`).
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
from collections.abc import Callable

import pytest
import trustme
from edge_harness import NginxProcess, behaviour_config
from nginx_binaries import NginxBinary

from infra.edge.render import MOZILLA_INTERMEDIATE_CIPHERS

MOZILLA = MOZILLA_INTERMEDIATE_CIPHERS.split(":")
TLS13_SUITES = (
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
)
GROUPS = ("X25519", "prime256v1", "secp384r1", "secp521r1", "X448", "ffdhe2048")


def handshake(port: int, context: ssl.SSLContext) -> str:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname="localhost") as tls,
    ):
        return tls.version()


def pinned_context(ca: trustme.CA, version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(context)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client really offer TLS 1.0/1.1
    context.minimum_version = context.maximum_version = version
    return context


# The client must really offer the old versions, which Python deprecates.
@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_old_tls_is_refused_by_the_server(edge, ca, version) -> None:
    with pytest.raises(ssl.SSLError, match="ALERT_PROTOCOL_VERSION"):
        handshake(edge.tree.runtime.listen_https, pinned_context(ca, version))


@pytest.mark.parametrize(
    ("version", "name"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")],
)
def test_current_tls_is_accepted(edge, ca, version, name) -> None:
    context = pinned_context(ca, version)
    assert handshake(edge.tree.runtime.listen_https, context) == name


def s_client(port: int, *options: str) -> str:
    """What `openssl s_client` negotiated: '<cipher> <group>' or '' when refused."""
    command = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *options]
    result = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10, check=False
    )
    cipher = re.search(r"Cipher is (\S+)", result.stdout)
    if not cipher or cipher.group(1) == "(NONE)":
        return ""
    key = re.search(r"Server Temp Key: ([^,\n]+)", result.stdout)
    return f"{cipher.group(1)} {key.group(1) if key else '-'}"


def tls12_ciphers() -> list[str]:
    command = ["openssl", "ciphers", "-tls1_2", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"]
    listed = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [c for c in listed.strip().split(":") if not c.startswith("TLS_")]


@pytest.mark.parametrize("key_type", [trustme.KeyType.RSA, trustme.KeyType.ECDSA])
def test_offered_suites_are_the_mozilla_intermediate_ones(
    nginx_binary: NginxBinary, start_nginx: Callable[..., NginxProcess], key_type: trustme.KeyType
) -> None:
    config = behaviour_config(nginx_binary)
    port = start_nginx(config, key_type=key_type).tree.runtime.listen_https
    offered12 = {
        c: got
        for c in tls12_ciphers()
        if (got := s_client(port, "-tls1_2", "-cipher", f"{c}:@SECLEVEL=0"))
    }
    offered13 = {
        s: got for s in TLS13_SUITES if (got := s_client(port, "-tls1_3", "-ciphersuites", s))
    }
    groups = {g: got for g in GROUPS if (got := s_client(port, "-tls1_3", "-groups", g))}
    print(f"\n[{key_type.name} certificate] TLS 1.2 suites accepted:")
    print("\n".join(f"  {c}: {got}" for c, got in offered12.items()))
    print(f"[{key_type.name}] TLS 1.3 suites accepted: {sorted(offered13)}")
    print(f"[{key_type.name}] TLS 1.3 groups accepted: {sorted(groups)}")
    kind = "RSA" if key_type is trustme.KeyType.RSA else "ECDSA"
    assert sorted(offered12) == sorted(c for c in MOZILLA if f"-{kind}-" in c)
    assert sorted(groups) == ["X25519", "prime256v1", "secp384r1"]
    assert set(offered13) >= {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}


def negotiated_group(client: NginxBinary, port: int, group: str) -> str:
    """The TLS 1.3 group `client`'s openssl negotiates offering only `group`, or ''
    (a refused handshake prints `<NULL>`)."""
    command = client.command(
        "openssl", "s_client", "-tls1_3", "-groups", group, "-connect", f"127.0.0.1:{port}"
    )
    result = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10, check=False
    )
    negotiated = re.search(r"Negotiated TLS1.3 group: (\w+)", result.stdout)
    return negotiated.group(1) if negotiated else ""


def test_post_quantum_group_is_negotiated_where_rendered(
    edge: NginxProcess, sid_binary: NginxBinary
) -> None:
    # Python's ssl cannot offer ML-KEM, so the client is sid's openssl, on either nginx.
    tls_conf = (edge.tree.root / "conf" / "snippets" / "tls.conf").read_text()
    rendered = "X25519MLKEM768" in tls_conf
    # The pinned OpenSSL (3.5) renders it; the host's (3.0) does not.
    assert rendered == edge.tree.binary.pinned
    port = edge.tree.runtime.listen_https
    expected = "X25519MLKEM768" if rendered else ""
    assert negotiated_group(sid_binary, port, "X25519MLKEM768") == expected

"""The acme deploy hook (infra/edge/acme.py) on real files and the rendered nginx: what it
puts in place, and the lineages it refuses before touching anything. The lineages
are made with trustme the way certbot writes them: fullchain.pem is the leaf, then
the intermediate; privkey.pem is the leaf's key."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from edge_harness import EdgeTree, NginxProcess, acme_config, poll
from nginx_binaries import HOST

from infra.edge import acme

DOMAIN = "ora.example.com"
CA = trustme.CA()
INTERMEDIATE = CA.create_child_ca()


def _fullchain(leaf: trustme.LeafCert) -> bytes:
    return b"".join(pem.bytes() for pem in leaf.cert_chain_pems)


def _write(directory: Path, fullchain: bytes, key: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fullchain.pem").write_bytes(fullchain)
    (directory / "privkey.pem").write_bytes(key)
    return directory


@pytest.fixture(scope="module")
def edge() -> Iterator[EdgeTree]:
    root = Path(tempfile.mkdtemp(prefix="ora-acme-hook-"))
    tree = EdgeTree.create(root / "edge", HOST)
    first = INTERMEDIATE.issue_cert(DOMAIN)
    _write(tree.root / "tls", _fullchain(first), first.private_key_pem.bytes())
    tree.write(acme_config(HOST, DOMAIN))
    process = NginxProcess(tree)
    yield tree
    process.stop()
    shutil.rmtree(root, ignore_errors=True)


def _hook(tree: EdgeTree, lineage: Path) -> subprocess.CompletedProcess:
    script = acme.deploy_hook(str(tree.root / "tls"), shlex.join(tree.nginx()))
    return subprocess.run(
        ["sh", "-c", script],
        env={**os.environ, "RENEWED_LINEAGE": str(lineage)},
        capture_output=True,
        text=True,
        check=False,
    )


def _leaf(tree: EdgeTree) -> x509.Certificate | None:
    """The leaf of one connection whose served chain verifies against CA alone."""
    trusted = ssl.create_default_context()
    CA.configure_trust(trusted)
    address = ("127.0.0.1", tree.runtime.listen_https)
    try:
        with (
            socket.create_connection(address, timeout=5) as raw,
            trusted.wrap_socket(raw, server_hostname=DOMAIN) as tls,
        ):
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    except ssl.SSLCertVerificationError:
        return None


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_the_hook_installs_the_lineage_and_nginx_serves_it(edge, tmp_path):
    issued = INTERMEDIATE.issue_cert(DOMAIN)
    lineage = _write(tmp_path, _fullchain(issued), issued.private_key_pem.bytes())
    result = _hook(edge, lineage)
    assert result.returncode == 0, result.stderr
    assert _files(edge.root / "tls") == _files(lineage)  # and nothing left over
    key = (edge.root / "tls" / "privkey.pem").stat()
    assert (oct(key.st_mode & 0o777), key.st_uid, key.st_gid) == ("0o440", int(acme.EDGE_UID), 0)
    expected = x509.load_pem_x509_certificate(issued.cert_chain_pems[0].bytes())
    poll(lambda: _leaf(edge) == expected, timeout=30, what="nginx serving the new leaf")


def _chain_first(leaf: trustme.LeafCert, _: trustme.LeafCert) -> tuple[bytes, bytes]:
    chain = b"".join(pem.bytes() for pem in reversed(leaf.cert_chain_pems))
    return chain, leaf.private_key_pem.bytes()


def _another_key(leaf: trustme.LeafCert, other: trustme.LeafCert) -> tuple[bytes, bytes]:
    return _fullchain(leaf), other.private_key_pem.bytes()


@pytest.mark.parametrize("broken", [_chain_first, _another_key], ids=lambda f: f.__name__)
def test_the_hook_refuses_a_lineage_whose_first_certificate_is_not_the_keys(edge, tmp_path, broken):
    fullchain, key = broken(INTERMEDIATE.issue_cert(DOMAIN), INTERMEDIATE.issue_cert(DOMAIN))
    before = _files(edge.root / "tls")
    result = _hook(edge, _write(tmp_path, fullchain, key))
    assert result.returncode != 0
    assert f"{tmp_path}/fullchain.pem does not begin with the certificate" in result.stderr
    assert _files(edge.root / "tls") == before

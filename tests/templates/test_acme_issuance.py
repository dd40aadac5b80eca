"""tlsMode acme for real: certbot obtains a certificate from a local ACME server
(Debian's pebble) over HTTP-01 through the rendered nginx, and the deploy hook
puts it in place and reloads nginx. The commands are the ones infra/edge/acme.py
gives the host; only the ACME server, the paths and the nginx command differ.

nginx reloads gracefully: for a moment after a reload its old worker still accepts
connections with the old certificate. So each check is made on the certificate one
connection was served, polled until it is the one certbot wrote, never on a second
read (issue 14, item 4)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from edge_harness import EdgeTree, NginxProcess, acme_config, poll
from nginx_binaries import HOST

from infra.edge import acme
from tests.ports import allocate

DOMAIN = "ora.example.com"


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ora-acme-"))
    path.chmod(0o755)  # nginx workers started as root run as nobody
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def edge(root: Path) -> Iterator[EdgeTree]:
    tree = EdgeTree.create(root / "edge", HOST)
    tls_dir = tree.root / "tls"
    subprocess.run(["sh", "-c", acme.placeholder(str(tls_dir), DOMAIN)], check=True)
    tree.write(acme_config(HOST, DOMAIN))
    process = NginxProcess(tree)
    yield tree
    process.stop()


def _served_certificate(tree: EdgeTree) -> x509.Certificate:
    pem = ssl.get_server_certificate(("127.0.0.1", tree.runtime.listen_https))
    return x509.load_pem_x509_certificate(pem.encode())


def _issuer(cert: x509.Certificate) -> str:
    return cert.issuer.rfc4514_string()


def _verified_leaf(tree: EdgeTree, trusted: ssl.SSLContext) -> x509.Certificate | None:
    """The leaf of one connection for DOMAIN, if its served chain verifies against
    `trusted` alone (so the intermediate is served after the leaf); None otherwise."""
    address = ("127.0.0.1", tree.runtime.listen_https)
    try:
        with (
            socket.create_connection(address, timeout=5) as raw,
            trusted.wrap_socket(raw, server_hostname=DOMAIN) as tls,
        ):
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    except ssl.SSLCertVerificationError:
        return None


def _wait_until_served(tree: EdgeTree, trusted: ssl.SSLContext, leaf: x509.Certificate):
    """Polls single connections until one is served `leaf`: nginx's old worker may
    answer a few with the previous certificate first."""
    poll(
        lambda: _verified_leaf(tree, trusted) == leaf,
        timeout=30,
        what=f"nginx serving serial {leaf.serial_number:x}",
    )


@pytest.fixture(scope="module")
def pebble(root: Path, edge: EdgeTree) -> Iterator[tuple[str, Path, ssl.SSLContext]]:
    """pebble (the ACME directory, over TLS) and pebble-challtestsrv (its DNS, which
    answers 127.0.0.1 for every name); with a client context that trusts only the
    root pebble issues under."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(str(root / "pebble-cert.pem"))
    cert.private_key_pem.write_to_path(str(root / "pebble-key.pem"))
    ca.cert_pem.write_to_path(str(root / "pebble-ca.pem"))
    dns_port, management_port, acme_port, pebble_management_port = (allocate() for _ in range(4))
    settings = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{acme_port}",
            "managementListenAddress": f"127.0.0.1:{pebble_management_port}",
            "certificate": str(root / "pebble-cert.pem"),
            "privateKey": str(root / "pebble-key.pem"),
            "httpPort": edge.runtime.listen_http,  # HTTP-01 is validated through nginx
            "tlsPort": allocate(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (root / "pebble.json").write_text(json.dumps(settings))
    dns = subprocess.Popen(
        [
            "pebble-challtestsrv",
            "-dns01",
            f"127.0.0.1:{dns_port}",
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            f"127.0.0.1:{management_port}",
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = subprocess.Popen(
        ["pebble", "-config", str(root / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns_port}"],
        env={**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    directory = f"https://127.0.0.1:{acme_port}/dir"
    context = ssl.create_default_context(cafile=str(root / "pebble-ca.pem"))

    def listening() -> bool:
        try:
            urllib.request.urlopen(directory, context=context, timeout=2).close()
            return True
        except OSError:
            return False

    poll(listening, timeout=30, what="pebble listening")
    roots = f"https://127.0.0.1:{pebble_management_port}/roots/0"
    with urllib.request.urlopen(roots, context=context, timeout=10) as response:
        trusted = ssl.create_default_context(cadata=response.read().decode())
    yield directory, root / "pebble-ca.pem", trusted
    for process in (server, dns):
        process.terminate()
        process.wait(timeout=10)


def _certbot(root: Path, edge: EdgeTree, directory: str, ca_file: Path):
    hook = root / "deploy-hook"
    hook.write_text(acme.deploy_hook(str(edge.root / "tls"), shlex.join(edge.nginx())))
    hook.chmod(0o755)
    state = root / "certbot"
    command = acme.issue_command(
        DOMAIN,
        "ops@example.com",
        directory,
        str(edge.root / "acme"),
        "--config-dir",
        str(state),
        "--work-dir",
        str(state),
        "--logs-dir",
        str(state),
        hook=str(hook),
    )
    return subprocess.run(
        shlex.split(command),
        env={**os.environ, "REQUESTS_CA_BUNDLE": str(ca_file)},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_nginx_starts_on_the_placeholder(edge):
    assert f"CN={DOMAIN}" in _issuer(_served_certificate(edge))


def _live(root: Path, name: str = "cert.pem") -> Path:
    return root / "certbot" / "live" / DOMAIN / name


def test_certbot_obtains_and_nginx_serves_the_acme_certificate(root, edge, pebble):
    directory, ca_file, trusted = pebble
    issued = _certbot(root, edge, directory, ca_file)
    assert issued.returncode == 0, issued.stdout + issued.stderr
    written = x509.load_pem_x509_certificate(_live(root).read_bytes())
    _wait_until_served(edge, trusted, written)
    names = written.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == [DOMAIN]
    installed = (edge.root / "tls" / "fullchain.pem").read_bytes()
    assert installed == _live(root, "fullchain.pem").read_bytes()


def test_a_second_run_keeps_the_certificate(root, edge, pebble):
    directory, ca_file, trusted = pebble
    installed = edge.root / "tls" / "fullchain.pem"
    before = installed.stat().st_ino, _live(root).read_bytes()
    again = _certbot(root, edge, directory, ca_file)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "not yet due for renewal" in again.stdout + again.stderr
    assert (installed.stat().st_ino, _live(root).read_bytes()) == before  # no hook ran
    _wait_until_served(edge, trusted, x509.load_pem_x509_certificate(before[1]))

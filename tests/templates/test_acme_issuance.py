"""tlsMode acme for real: certbot obtains a certificate from a local ACME server
(Debian's pebble) over HTTP-01 through the rendered nginx, and the deploy hook
puts it in place and reloads nginx. The commands are the ones infra/acme.py
gives the host; only the ACME server, the paths and the reload differ."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import ssl
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from edge_harness import EdgeTree, NginxProcess, free_port, poll
from nginx_binaries import HOST

from infra import acme, config

DOMAIN = "ora.example.com"


def _stack() -> config.StackConfig:
    prod = config.offline("prod")
    edge = dataclasses.replace(
        prod.edge, tls_mode="acme", acme_email="ops@example.com", domain=DOMAIN
    )
    return HOST.feature_set(dataclasses.replace(prod, edge=edge))


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
    tree.write(_stack())
    process = NginxProcess(tree)
    yield tree
    process.stop()


def _served_certificate(tree: EdgeTree) -> x509.Certificate:
    pem = ssl.get_server_certificate(("127.0.0.1", tree.runtime.listen_https))
    return x509.load_pem_x509_certificate(pem.encode())


def _issuer(cert: x509.Certificate) -> str:
    return cert.issuer.rfc4514_string()


@pytest.fixture(scope="module")
def pebble(root: Path, edge: EdgeTree) -> Iterator[tuple[str, Path]]:
    """pebble (the ACME directory, over TLS) and pebble-challtestsrv (its DNS, which
    answers 127.0.0.1 for every name)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(str(root / "pebble-cert.pem"))
    cert.private_key_pem.write_to_path(str(root / "pebble-key.pem"))
    ca.cert_pem.write_to_path(str(root / "pebble-ca.pem"))
    dns_port, management_port, acme_port = (free_port("127.0.0.1") for _ in range(3))
    settings = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{acme_port}",
            "managementListenAddress": f"127.0.0.1:{free_port('127.0.0.1')}",
            "certificate": str(root / "pebble-cert.pem"),
            "privateKey": str(root / "pebble-key.pem"),
            "httpPort": edge.runtime.listen_http,  # HTTP-01 is validated through nginx
            "tlsPort": free_port("127.0.0.1"),
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
    yield directory, root / "pebble-ca.pem"
    for process in (server, dns):
        process.terminate()
        process.wait(timeout=10)


def _certbot(root: Path, edge: EdgeTree, directory: str, ca_file: Path):
    hook = root / "deploy-hook"
    reload_nginx = shlex.join(edge.nginx("-s", "reload"))
    hook.write_text(acme.deploy_hook(str(edge.root / "tls"), reload_nginx))
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


def test_certbot_obtains_and_nginx_serves_the_acme_certificate(root, edge, pebble):
    directory, ca_file = pebble
    issued = _certbot(root, edge, directory, ca_file)
    assert issued.returncode == 0, issued.stdout + issued.stderr
    poll(
        lambda: "Pebble" in _issuer(_served_certificate(edge)),
        timeout=15,
        what="nginx serving the issued certificate",
    )
    names = (
        _served_certificate(edge)
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value.get_values_for_type(x509.DNSName)
    )
    assert names == [DOMAIN]


def test_a_second_run_keeps_the_certificate(root, edge, pebble):
    directory, ca_file = pebble
    before = _served_certificate(edge).serial_number
    again = _certbot(root, edge, directory, ca_file)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "not yet due for renewal" in again.stdout + again.stderr
    assert _served_certificate(edge).serial_number == before

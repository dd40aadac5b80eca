"""Fixtures for the nginx edge: a trustme CA, a stub DNS server, two stub app replicas
on 127.0.0.2 and 127.0.0.3 (same port) behind the name `app`, and running nginx
instances of the rendered config, on each nginx binary (nginx_binaries: host, sid)."""

from __future__ import annotations

import shutil
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # infra/ is a Pulumi program, not an installed package

from edge_harness import (  # noqa: E402
    REPLICAS,
    DnsStub,
    EdgeTree,
    NginxProcess,
    StubApp,
    behaviour_config,
)
from nginx_binaries import HOST, NginxBinary, sid  # noqa: E402
from pki import Issued  # noqa: E402

from infra import config  # noqa: E402
from tests.ports import allocate  # noqa: E402


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture(scope="session", params=["host", "sid"])
def nginx_binary(request) -> NginxBinary:
    """Every test that runs nginx runs on both binaries; see nginx_binaries."""
    return HOST if request.param == "host" else sid()


@pytest.fixture(scope="session")
def sid_binary() -> NginxBinary:
    return sid()


@pytest.fixture(scope="session")
def work_root(nginx_binary: NginxBinary) -> Iterator[Path]:
    # Not tmp_path: pytest's base dir is private to the user, and nginx workers
    # started as root run as `nobody`. A chrooted nginx sees only its own /tmp.
    scratch = nginx_binary.filesystem / "tmp"
    root = Path(tempfile.mkdtemp(prefix="ora-nginx-", dir=scratch))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dns() -> Iterator[DnsStub]:
    server = DnsStub("app", REPLICAS)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def replicas() -> Iterator[dict[str, StubApp]]:
    port = allocate(*REPLICAS)
    stubs = {address: StubApp(address, port) for address in REPLICAS}
    for stub in stubs.values():
        stub.start()
    yield stubs
    for stub in stubs.values():
        stub.stop()


@pytest.fixture(scope="session")
def make_edge(
    nginx_binary: NginxBinary,
    work_root: Path,
    ca: trustme.CA,
    dns: DnsStub,
    replicas: dict[str, StubApp],
) -> Callable[..., EdgeTree]:
    """Writes a rendered config (plus certificate and static files) into a fresh tree."""
    count = 0
    port = next(iter(replicas.values())).port

    def make(
        cfg: config.StackConfig,
        key_type: trustme.KeyType | None = None,
        certificate: Issued | None = None,
        upstream_servers: tuple[str, ...] = (),
    ) -> EdgeTree:
        """`certificate`, or one from `ca` (ECDSA) or from a new trustme CA of `key_type`."""
        nonlocal count
        count += 1
        tree = EdgeTree.create(
            work_root / f"edge{count}", nginx_binary, resolver=dns.address, upstream_port=port
        )
        tree.upstream_servers = upstream_servers
        if certificate is None:
            issuer = ca if key_type is None else trustme.CA(key_type=key_type)
            cert = issuer.issue_cert(
                "localhost", "127.0.0.1", key_type=key_type or trustme.KeyType.ECDSA
            )
            # With the issuer, as a provided chain would be (nginx needs it for stapling).
            pems = [*cert.cert_chain_pems, issuer.cert_pem]
            chain = b"".join(blob.bytes() for blob in pems)
            certificate = Issued(issuer.cert_pem.bytes(), chain, cert.private_key_pem.bytes())
        (tree.root / "tls" / "privkey.pem").write_bytes(certificate.key_pem)
        (tree.root / "tls" / "fullchain.pem").write_bytes(certificate.chain_pem)
        static = tree.root / "static"
        (static / "app.3f9a1c2b.css").write_text("body { color: black; }\n")
        (static / "robots.txt").write_text("User-agent: *\n")
        (static / ".env").write_text("SECRET=1\n")
        acme = tree.root / "acme" / ".well-known" / "acme-challenge"
        acme.mkdir(parents=True)
        (acme / "token123").write_text("token123.thumbprint\n")
        tree.write(cfg)
        return tree

    return make


@pytest.fixture(scope="session")
def start_nginx(make_edge: Callable[..., EdgeTree]) -> Iterator[Callable[..., NginxProcess]]:
    started: list[NginxProcess] = []

    def start(cfg: config.StackConfig, **kwargs) -> NginxProcess:
        nginx = NginxProcess(make_edge(cfg, **kwargs))
        started.append(nginx)
        return nginx

    yield start
    for nginx in started:
        nginx.stop()


@pytest.fixture(scope="session")
def edge(nginx_binary: NginxBinary, start_nginx: Callable[..., NginxProcess]) -> NginxProcess:
    return start_nginx(behaviour_config(nginx_binary))


@pytest.fixture(scope="session")
def maintenance_edge(
    nginx_binary: NginxBinary, start_nginx: Callable[..., NginxProcess]
) -> NginxProcess:
    return start_nginx(behaviour_config(nginx_binary, maintenance=True))

"""The edge and the internal network: published ports, TLS, redirects, headers, credentials."""

from __future__ import annotations

import datetime as dt
import ssl
import urllib.parse

import httpx
import pytest
from cryptography import x509

from infra.edge import release as edge_release
from infra.edge.render import SECURITY_HEADERS, render_nginx
from infra.services import nginx
from infra.targets.swarm import nginx as swarm_nginx
from tests.infra.mounts import mounts_at, writable

CERT_MIN_DAYS = 14


@pytest.fixture(scope="module")
def names(outputs) -> dict:
    return outputs["containers"]


@pytest.fixture(scope="module")
def edge(cfg) -> tuple[str, int, int]:
    wildcard = cfg.edge.bind_address in ("0.0.0.0", "127.0.0.1")  # noqa: S104 - a comparison
    address = "127.0.0.1" if wildcard else cfg.edge.bind_address
    return address, cfg.edge.http_port, cfg.edge.https_port


def test_nginx_config_is_valid(host, cfg, names):
    # The live release (swarm: the mounted configs), not the image's default.
    conf_dir = swarm_nginx.RUNTIME.conf_dir if cfg.swarm.enabled else edge_release.LIVE
    live = f"{conf_dir}/nginx.conf"
    result = host.run("docker exec %s nginx -t -c %s", names["nginx"], live)
    assert result.rc == 0, result.stderr


@pytest.mark.host_only("nginx runs the Swarm configs it mounts; a change rolls the task")
def test_nginx_runs_the_live_release(host, names, cfg):
    command = host.docker(names["nginx"]).inspect()["Config"]["Cmd"]
    access_log_file = nginx.ACCESS_LOG_FILE if cfg.monitoring.enabled else None
    assert command == ["sh", "-c", edge_release.launch_script(access_log_file=access_log_file)]
    assert host.run("docker exec %s readlink %s", names["nginx"], edge_release.LIVE).rc == 0


@pytest.mark.swarm_only("one host's nginx runs the live release its launcher reloads (above)")
def test_nginx_runs_the_configs_swarm_mounts(host, cfg, names):
    """On swarm, a change of the edge's files is a new Swarm config, and so a new task:
    nginx runs the files rendered for this stack, each mounted read-only from its config."""
    command = host.docker(names["nginx"]).inspect()["Config"]["Cmd"]
    logged = cfg.monitoring.enabled  # the access log's copy for mtail, rotated
    assert command == ["sh", "-c", swarm_nginx.launch_of(logged)]
    conf_dir = swarm_nginx.RUNTIME.conf_dir
    mounted = mounts_at(host, names["nginx"], conf_dir)
    rendered = {f"{conf_dir}/{path}" for path in render_nginx(cfg, swarm_nginx.runtime_of(logged))}
    assert sorted(rendered - set(mounted)) == []
    assert writable({p: mounted[p] for p in rendered}) == []


@pytest.mark.parametrize("which", ["http", "https"])
def test_edge_ports_listen(host, cfg, which):
    port = cfg.edge.http_port if which == "http" else cfg.edge.https_port
    assert host.socket(f"tcp://{cfg.edge.bind_address}:{port}").is_listening


def test_only_nginx_publishes_ports(host, names, cfg):
    # Swarm publishes a host-mode port on every address of the node.
    address = "" if cfg.swarm.enabled else cfg.edge.bind_address
    expected = {(address, str(cfg.edge.http_port)), (address, str(cfg.edge.https_port))}
    published = {}
    # On swarm, the containers of the node under test (the edge node runs nginx).
    for name in [
        v for value in names.values() for v in ([value] if isinstance(value, str) else value)
    ]:
        ports = host.docker(name).inspect()["HostConfig"]["PortBindings"] or {}
        published[name] = {
            (b["HostIp"], b["HostPort"]) for bindings in ports.values() for b in bindings
        }
    assert published.pop(names["nginx"]) == expected
    assert all(not ports for ports in published.values()), published


def _probe(host, container: str, code: str) -> str:
    return host.check_output("docker exec %s /opt/venv/bin/python -c %s", container, code).strip()


def test_redis_needs_a_password_inside(host, names):
    code = (
        "import socket; s = socket.create_connection(('redis', 6379), 3); "
        "s.sendall(b'PING\\r\\n'); print(s.recv(200).decode())"
    )
    assert _probe(host, names["app"][0], code).startswith("-NOAUTH")


def test_qdrant_needs_the_api_key_inside(host, names):
    code = (
        "import urllib.request, urllib.error\ntry:\n"
        " urllib.request.urlopen('http://qdrant:6333/collections', timeout=3)"
        "\nexcept urllib.error.HTTPError as e:\n print(e.code)"
    )
    assert _probe(host, names["app"][0], code) == "401"


def test_http_redirects_to_https(cfg, edge):
    address, http_port, _ = edge
    response = httpx.get(f"http://{address}:{http_port}/healthz", headers={"Host": cfg.edge.domain})
    assert response.status_code == 308
    target = urllib.parse.urlsplit(response.headers["location"])
    assert (target.scheme, target.hostname) == ("https", cfg.edge.domain)


def test_certificate_matches_domain_and_is_fresh(cfg, edge):
    address, _, https_port = edge
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    import socket

    with (
        socket.create_connection((address, https_port), 5) as raw,
        context.wrap_socket(raw, server_hostname=cfg.edge.domain) as tls,
    ):
        cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert cfg.edge.domain in names.get_values_for_type(x509.DNSName)
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert left > dt.timedelta(days=CERT_MIN_DAYS), f"certificate expires in {left}"


@pytest.fixture(scope="module")
def ready(cfg, edge) -> httpx.Response:
    address, _, https_port = edge
    with httpx.Client(verify=False, headers={"Host": cfg.edge.domain}) as client:  # noqa: S501 - dev is self-signed
        return client.get(f"https://{address}:{https_port}/readyz")


def test_ready_through_nginx(ready):
    assert ready.status_code == 200, ready.text


@pytest.mark.parametrize(
    ("header", "value"), SECURITY_HEADERS, ids=[h for h, _ in SECURITY_HEADERS]
)
def test_security_header(ready, header, value):
    assert ready.headers.get(header) == value

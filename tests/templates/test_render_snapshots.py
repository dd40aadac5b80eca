"""Exact rendering of a base config, and what each config key changes in it.

Regenerate the snapshots after an intended change with
`ORA_UPDATE_SNAPSHOTS=1 pytest tests/templates/test_render_snapshots.py`, then review
the diff under tests/templates/snapshots/ like any other change.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from infra import config
from infra.edge.render import UPSTREAM_KEEPALIVE_TIMEOUT, render_nginx

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("ORA_UPDATE_SNAPSHOTS") == "1"


def render(stack: str = "base", **raw: str) -> dict[str, str]:
    """The rendering of the schema defaults (nginx 1.29.1, OpenSSL 3.5.1) plus `raw`."""
    return render_nginx(config.parse(stack, raw, verify_certificate=False))


def changes(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """Per file, the changed lines as '-old' / '+new' (stripped), in order."""
    result = {}
    for path in sorted(before.keys() | after.keys()):
        old = before.get(path, "").splitlines()
        new = after.get(path, "").splitlines()
        lines = [
            line[0] + line[1:].strip()
            for line in difflib.unified_diff(old, new, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        if lines:
            result[path] = lines
    return result


@pytest.mark.parametrize("path", sorted(render()))
def test_base_rendering_matches_its_snapshot(path: str) -> None:
    snapshot = SNAPSHOTS / "base" / path
    text = render()[path]
    if UPDATE:
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(text)
    assert snapshot.exists(), f"no snapshot {snapshot}; run with ORA_UPDATE_SNAPSHOTS=1"
    assert text == snapshot.read_text()


def test_snapshots_hold_no_stale_file() -> None:
    base = SNAPSHOTS / "base"
    stored = {str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()}
    assert stored == set(render())


def test_maintenance_answers_503_instead_of_proxying() -> None:
    assert changes(render(), render(maintenance="true")) == {
        "snippets/proxy.conf": [
            "+# Maintenance mode: answered by snippets/errors.conf with the page and Retry-After.",
            "+return 503;",
        ]
    }


def test_edge_workers_set_worker_processes() -> None:
    assert changes(render(), render(edgeWorkers="auto")) == {
        "nginx.conf": ["-worker_processes 1;", "+worker_processes auto;"]
    }


def test_rate_limit_sets_the_zone_rate() -> None:
    assert changes(render(), render(rateLimit="600r/m")) == {
        "nginx.conf": [
            "-limit_req_zone $binary_remote_addr zone=ora_api:10m rate=10r/s;",
            "+limit_req_zone $binary_remote_addr zone=ora_api:10m rate=600r/m;",
        ]
    }


def test_rate_limit_burst_sets_the_api_burst() -> None:
    assert changes(render(), render(rateLimitBurst="5")) == {
        "conf.d/ora.conf": [
            "-limit_req zone=ora_api burst=20 nodelay;",
            "+limit_req zone=ora_api burst=5 nodelay;",
        ]
    }


def test_conn_limit_sets_the_per_ip_limit() -> None:
    assert changes(render(), render(connLimit="20")) == {
        "nginx.conf": ["-limit_conn ora_conn 100;", "+limit_conn ora_conn 20;"]
    }


def test_client_max_body_size() -> None:
    assert changes(render(), render(clientMaxBodySize="512k")) == {
        "nginx.conf": ["-client_max_body_size 10m;", "+client_max_body_size 512k;"]
    }


def test_domain_sets_server_names_and_redirect_target() -> None:
    assert changes(render(), render(domain="ora.example.org")) == {
        "conf.d/ora.conf": ["-server_name localhost;", "+server_name ora.example.org;"],
        "conf.d/redirect.conf": [
            "-server_name localhost;",
            "+server_name ora.example.org;",
            "-return 308 https://localhost$request_uri;",
            "+return 308 https://ora.example.org$request_uri;",
        ],
    }


def test_https_port_goes_into_the_redirect_only() -> None:
    assert changes(render(), render(httpsPort="8443")) == {
        "conf.d/redirect.conf": [
            "-return 308 https://localhost$request_uri;",
            "+return 308 https://localhost:8443$request_uri;",
        ]
    }


def test_http_port_changes_nothing_nginx_renders() -> None:
    # Host-side port: Docker publishes it; nginx listens on 8080 inside regardless.
    assert changes(render(), render(httpPort="8080")) == {}


def directives(diff: dict[str, list[str]]) -> dict[str, list[str]]:
    """`diff` without its comment and blank lines."""
    return {
        path: [line for line in lines if line[1:][:1] not in ("", "#")]
        for path, lines in diff.items()
    }


def test_old_nginx_takes_http2_on_the_listen_line() -> None:
    # Against 1.25.1: both are older than 1.27.3, so the upstream renders alike.
    assert changes(render(nginxVersion="1.25.1"), render(nginxVersion="1.25.0")) == {
        "conf.d/ora.conf": [
            "-listen 8443 ssl default_server;",
            "-http2 on;",
            "+listen 8443 ssl http2 default_server;",
        ]
    }


def test_nginx_1_25_1_is_the_first_with_the_http2_directive() -> None:
    assert "conf.d/ora.conf" not in changes(render(), render(nginxVersion="1.25.1"))


@pytest.mark.parametrize("version", ["1.22.1", "1.27.3", "1.29.1", "1.30.6"])
def test_every_nginx_resolves_the_app_per_request_when_rendered_offline(version: str) -> None:
    # Not `server ... resolve` even where nginx has it: nginx/nginx#1656 (snippets/proxy.conf).
    files = render(nginxVersion=version)
    assert "proxy_pass http://$ora_upstream;" in files["snippets/proxy.conf"]
    assert not any(
        " resolve" in line
        for text in files.values()
        for line in text.splitlines()
        if line.strip().startswith("server ")
    )


def test_nginx_before_1_23_2_turns_session_tickets_off() -> None:
    # Its ticket keys never rotate; Mozilla's 6.0 generator turns tickets off only there.
    assert changes(render(nginxVersion="1.23.2"), render(nginxVersion="1.23.1")) == {
        "snippets/tls.conf": [
            "+# This nginx never rotates its ticket keys; newer ones do (with the shared cache).",
            "+ssl_session_tickets off;",
        ]
    }


REPLICAS = ("172.18.0.5:8000", "172.18.0.6:8000")


def test_replica_addresses_render_a_static_upstream_with_a_keepalive_pool() -> None:
    # The program's rendering: the replicas' addresses, reused connections, no resolver.
    config_ = config.parse("base", {}, verify_certificate=False)
    assert changes(render(), render_nginx(config_, upstream_servers=REPLICAS)) == {
        "conf.d/ora.conf": [
            "+# The app replicas on the edge network. Idle connections are reused; nginx closes",
            "+# them before the app would (gunicorn keepalive 75 s > keepalive_timeout).",
            "+# proxy_next_upstream (snippets/proxy.conf) retries only idempotent requests.",
            "+# max_fails=0: a failed replica is never marked down. With two replicas, marking",
            "+# one down (e.g. after a worker recycle reset) while the other fails once too left",
            "+# no live upstream: 502 for every request until fail_timeout ran out (measured in",
            "+# tests/templates/test_nginx_upstream_pool.py). A refused connect costs little; the",
            "+# retry goes to the next server.",
            "+upstream ora_app {",
            "+server 172.18.0.5:8000 max_fails=0;",
            "+server 172.18.0.6:8000 max_fails=0;",
            "+keepalive 256;",
            "+keepalive_timeout 60s;",
            "+keepalive_requests 10000;",
            "+}",
            "+",
        ],
        "snippets/proxy.conf": [
            "-# Offline rendering (replica addresses unknown): a variable makes nginx resolve the",
            "-# app alias per request through `resolver` (valid=2s); every address behind the",
            "-# alias is a peer for proxy_next_upstream. No upstream keepalive pool in this form.",
            "-set $ora_upstream app:8000;",
            "-proxy_pass http://$ora_upstream;",
            "+# The replicas' addresses, static, with a keepalive pool (upstream ora_app in",
            "+# conf.d/ora.conf): no connect/accept/close per request. A rollout starts and checks",
            "+# the new replicas, installs a release naming their addresses, nginx reloads",
            "+# gracefully, and only then are the old replicas removed; so no re-resolution race",
            "+# (nginx/nginx#1656, which cost `server app:8000 resolve` 6 of 3600 requests).",
            "+proxy_pass http://ora_app;",
        ],
    }


def test_the_app_keeps_idle_connections_longer_than_the_edge() -> None:
    # Else nginx may reuse a connection the app is closing: a reset, a retry or a 502.
    gunicorn = (Path(__file__).parents[2] / "app" / "gunicorn.conf.py").read_text()
    (line,) = [x for x in gunicorn.splitlines() if x.startswith("keepalive = ")]
    app_keepalive = int(line.split("=")[1].split("#")[0])
    assert app_keepalive > int(UPSTREAM_KEEPALIVE_TIMEOUT.removesuffix("s"))


def test_openssl_before_3_5_offers_no_post_quantum_group() -> None:
    assert changes(render(), render(opensslVersion="3.4.1")) == {
        "snippets/tls.conf": [
            "-ssl_ecdh_curve ?X25519MLKEM768:X25519:prime256v1:secp384r1;",
            "+ssl_ecdh_curve X25519:prime256v1:secp384r1;",
        ]
    }


def test_openssl_3_5_0_offers_the_post_quantum_group() -> None:
    assert changes(render(), render(opensslVersion="3.5.0")) == {}


PUBLIC = {"domain": "ora.example.com", "acmeEmail": "ops@example.com"}


def test_provided_certificate_gets_ocsp_stapling() -> None:
    stapling = changes(render(**PUBLIC), render(**PUBLIC, tlsMode="provided"))
    assert stapling["snippets/tls.conf"][-3:] == [
        "+ssl_stapling on;",
        "+ssl_stapling_verify on;",
        "+ssl_trusted_certificate tls/fullchain.pem;",
    ]
    assert list(stapling) == ["snippets/tls.conf"]
    assert all(line.startswith(("+#", "+ssl_", "+")) for line in stapling["snippets/tls.conf"])


def test_acme_renders_like_self_signed_but_reads_the_hosts_certificate() -> None:
    # The challenge location exists in every mode, and Let's Encrypt has no OCSP any more;
    # only the certificate's directory differs: the host's certbot writes it, not a release.
    self_signed = config.parse("base", PUBLIC)
    acme = replace(self_signed, edge=replace(self_signed.edge, tls_mode="acme"))
    assert changes(render_nginx(self_signed), render_nginx(acme)) == {
        "snippets/tls.conf": [
            "-ssl_certificate tls/fullchain.pem;",
            "-ssl_certificate_key tls/privkey.pem;",
            "+ssl_certificate /etc/nginx/tls/fullchain.pem;",
            "+ssl_certificate_key /etc/nginx/tls/privkey.pem;",
        ]
    }

"""The rendered config on a real nginx, in front of two stub app replicas."""

from __future__ import annotations

import itertools
import json
import ssl
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from edge_harness import (
    BEHAVIOUR_EDGE,
    HOLD,
    REPLICAS,
    RESET_ONCE,
    NginxProcess,
    StubApp,
    poll,
)

from infra.edge.render import OTHER_BURST, READYZ_BURST, SECURITY_HEADERS

BURST = BEHAVIOUR_EDGE["rate_limit_burst"]
CONN_LIMIT = BEHAVIOUR_EDGE["conn_limit"]


def client(nginx: NginxProcess, context: ssl.SSLContext, source: str = "127.0.0.1") -> httpx.Client:
    """A client from `source`: each source address has its own rate-limit bucket."""
    runtime = nginx.tree.runtime
    transport = httpx.HTTPTransport(verify=context, local_address=source)
    return httpx.Client(base_url=f"https://127.0.0.1:{runtime.listen_https}", transport=transport)


# The `https` client's source addresses: one per test, so that no test spends another's
# rate-limit buckets (location / has one too).
SOURCES = (f"127.0.1.{n}" for n in itertools.count(1))


@pytest.fixture
def source() -> str:
    return next(SOURCES)


@pytest.fixture
def https(
    edge: NginxProcess, client_context: ssl.SSLContext, source: str
) -> Iterator[httpx.Client]:
    with client(edge, client_context, source) as c:
        yield c


def http_get(nginx: NginxProcess, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{nginx.tree.runtime.listen_http}{path}")


def exhaust_rate_limit(nginx: NginxProcess, context: ssl.SSLContext, source: str) -> list[int]:
    with client(nginx, context, source) as c:
        return [c.get("/api/items").status_code for _ in range(BURST + 2)]


def response_for(kind: str, nginx: NginxProcess, context: ssl.SSLContext) -> httpx.Response:
    with client(nginx, context, source="127.0.0.20") as c:
        if kind == "proxied 200":
            return c.get("/api/items")
        if kind == "404":
            return c.get("/.git/config")
        if kind == "413":
            return c.post("/upload", content=b"x" * 4096)
        if kind == "429":
            exhaust_rate_limit(nginx, context, "127.0.0.21")
            with client(nginx, context, source="127.0.0.21") as limited:
                return limited.get("/api/items")
        if kind == "502":
            return c.get("/__close")
        if kind == "static":
            return c.get("/static/app.3f9a1c2b.css")
        if kind == "redirect":
            return http_get(nginx, "/")
    raise AssertionError(kind)


KINDS = {"proxied 200": 200, "404": 404, "413": 413, "429": 429, "502": 502}
KINDS |= {"static": 200, "redirect": 308}


@pytest.fixture(scope="module")
def responses(edge: NginxProcess, client_context: ssl.SSLContext) -> dict[str, httpx.Response]:
    """One response of each kind, fetched once (the 429 costs a rate-limit bucket)."""
    return {kind: response_for(kind, edge, client_context) for kind in KINDS}


@pytest.mark.parametrize(("kind", "status"), KINDS.items())
@pytest.mark.parametrize(("header", "value"), SECURITY_HEADERS)
def test_security_header_on_every_response(
    kind: str, status: int, header: str, value: str, responses: dict[str, httpx.Response]
) -> None:
    response = responses[kind]
    assert response.status_code == status
    assert response.headers.get_list(header) == [value]


@pytest.mark.parametrize("kind", ["404", "413", "429", "502"])
def test_error_pages_carry_no_nginx_branding(
    kind: str, responses: dict[str, httpx.Response]
) -> None:
    response = responses[kind]
    assert response.text.startswith("<!doctype html>")
    assert "nginx" not in response.text.lower()


@pytest.mark.parametrize("path", ["/", "/api/items?page=2"])
def test_http_redirects_with_308_to_the_public_https_port(edge: NginxProcess, path: str) -> None:
    response = http_get(edge, path)
    assert response.status_code == 308
    # dev publishes https on 8443 while nginx listens on a test port here.
    assert response.headers["location"] == f"https://localhost:8443{path}"


def test_acme_challenge_is_served_over_http(edge: NginxProcess) -> None:
    response = http_get(edge, "/.well-known/acme-challenge/token123")
    assert response.status_code == 200
    assert response.text == "token123.thumbprint\n"


def test_api_answers_429_beyond_the_burst(edge: NginxProcess, client_context) -> None:
    # 1r/m: the first request and BURST more pass, the next one is limited.
    statuses = exhaust_rate_limit(edge, client_context, "127.0.0.30")
    assert statuses == [200] * (BURST + 1) + [429]


def test_readyz_answers_429_beyond_its_own_burst(edge: NginxProcess, client_context) -> None:
    # The real limit (2r/s, burst 5): the first request and the burst pass; the bucket
    # frees one slot per 500 ms, far slower than these back-to-back requests.
    with client(edge, client_context, "127.0.0.31") as c:
        statuses = [c.get("/readyz").status_code for _ in range(READYZ_BURST + 10)]
    assert statuses[: READYZ_BURST + 1] == [200] * (READYZ_BURST + 1)
    assert statuses.count(429) >= 5, statuses


@pytest.mark.parametrize(
    ("path", "source"),
    [("/openapi.json", "127.0.0.50"), ("/docs", "127.0.0.51"), ("/no-such-page", "127.0.0.52")],
)
def test_other_proxied_paths_answer_429_beyond_their_own_burst(
    edge: NginxProcess, client_context, path: str, source: str
) -> None:
    # 10r/s, burst 20: back-to-back requests outrun the bucket's refill (each source
    # address has its own bucket).
    with client(edge, client_context, source) as c:
        statuses = [c.get(path).status_code for _ in range(OTHER_BURST + 15)]
    assert 429 not in statuses[: OTHER_BURST + 1], statuses
    assert statuses.count(429) >= 5, statuses


def get_status(nginx: NginxProcess, context: ssl.SSLContext, source: str, path: str) -> int:
    with client(nginx, context, source) as c:
        return c.get(path, timeout=HOLD.TIMEOUT + 5).status_code


@pytest.fixture
def held(edge: NginxProcess, client_context: ssl.SSLContext) -> Iterator[list]:
    """CONN_LIMIT requests from 127.0.0.40 in progress (held in the stub app)."""
    HOLD.reset()
    with ThreadPoolExecutor(CONN_LIMIT) as pool:
        futures = [
            pool.submit(get_status, edge, client_context, "127.0.0.40", "/__hold")
            for _ in range(CONN_LIMIT)
        ]
        try:
            poll(lambda: HOLD.waiting == CONN_LIMIT, what=f"{CONN_LIMIT} held requests")
            yield futures
        finally:
            HOLD.release()


@pytest.mark.parametrize(("source", "status"), [("127.0.0.40", 429), ("127.0.0.41", 200)])
def test_conn_limit_answers_429_to_one_ip_beyond_it(
    held: list, edge: NginxProcess, client_context, source: str, status: int
) -> None:
    # One more request from the IP at its limit is refused; another IP is not affected.
    assert get_status(edge, client_context, source, "/items") == status
    HOLD.release()
    assert [future.result() for future in held] == [200] * CONN_LIMIT


@pytest.mark.parametrize("path", ["/.env", "/.git/config", "/api/.htaccess", "/static/.env"])
def test_dotfiles_are_denied(https: httpx.Client, path: str) -> None:
    assert https.get(path).status_code == 404


@pytest.mark.parametrize("path", ["/metrics", "/metrics/", "//metrics", "/%6Detrics?x=1"])
def test_app_metrics_are_not_reachable(https: httpx.Client, path: str) -> None:
    assert https.get(f"{https.base_url}".rstrip("/") + path).status_code == 404


def test_healthz_is_answered_by_nginx(https: httpx.Client) -> None:
    response = https.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok\n")
    assert "replica" not in response.text


def test_readyz_is_proxied(https: httpx.Client) -> None:
    response = https.get("/readyz")
    assert response.status_code == 200
    assert response.json()["path"] == "/readyz"


@pytest.mark.parametrize(
    ("path", "cache_control"),
    [
        ("/static/app.3f9a1c2b.css", "public, max-age=31536000, immutable"),
        ("/robots.txt", "public, max-age=3600"),
    ],
)
def test_static_cache_lifetimes(https: httpx.Client, path: str, cache_control: str) -> None:
    response = https.get(path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == cache_control


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("x-forwarded-for", "the client's address"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "127.0.0.1"),
        ("host", "127.0.0.1"),
        ("connection", None),
    ],
)
def test_forwarded_headers_replace_what_the_client_sent(
    https: httpx.Client, source: str, header: str, expected: str | None
) -> None:
    spoofed = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "http"}
    seen = https.get("/echo", headers=spoofed).json()["headers"]
    assert seen.get(header) == (source if expected == "the client's address" else expected)


def test_request_id_is_generated_per_request(https: httpx.Client) -> None:
    ids = {https.get("/", headers={"X-Request-ID": "client"}).json()["headers"]["x-request-id"]}
    ids.add(https.get("/").json()["headers"]["x-request-id"])
    assert len(ids) == 2
    assert all(len(i) == 32 and "client" not in i for i in ids)


@pytest.mark.parametrize("header", ["x-powered-by", "x-frame-options"])
def test_upstream_headers_are_replaced(https: httpx.Client, header: str) -> None:
    values = https.get("/").headers.get_list(header)
    assert values == ([] if header == "x-powered-by" else ["DENY"])


def test_server_header_discloses_no_version(https: httpx.Client) -> None:
    assert https.get("/").headers["server"] == "nginx"


def test_requests_reach_every_replica(https: httpx.Client) -> None:
    seen: set[str] = set()

    def both_seen() -> bool:
        seen.add(https.get("/").json()["replica"])
        return seen == set(REPLICAS)

    poll(both_seen, what="both replicas answering")


@pytest.fixture(params=REPLICAS)
def one_replica_down(request, replicas: dict[str, StubApp]) -> Iterator[str]:
    stub = replicas[request.param]
    stub.stop()
    yield request.param
    stub.start()


def test_failover_when_a_replica_is_down(https: httpx.Client, one_replica_down: str) -> None:
    responses = [https.get("/items") for _ in range(10)]
    assert [r.status_code for r in responses] == [200] * 10
    assert {r.json()["replica"] for r in responses} == set(REPLICAS) - {one_replica_down}


@pytest.mark.parametrize("path", ["/", "/api/items"])
def test_maintenance_returns_503_with_retry_after(
    maintenance_edge: NginxProcess, client_context: ssl.SSLContext, path: str
) -> None:
    with client(maintenance_edge, client_context) as c:
        response = c.get(path)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "300"
    assert "maintenance" in response.text


@pytest.mark.parametrize(("path", "status"), [("/healthz", 200), ("/readyz", 503)])
def test_maintenance_keeps_nginx_liveness(
    maintenance_edge: NginxProcess, client_context: ssl.SSLContext, path: str, status: int
) -> None:
    with client(maintenance_edge, client_context) as c:
        assert c.get(path).status_code == status


def test_access_log_is_json_with_the_alerting_fields(https: httpx.Client, edge) -> None:
    https.get("/log-probe")
    log = edge.tree.root / "access.log"

    def probe_logged() -> bool:
        return "/log-probe" in log.read_text()

    poll(probe_logged, what="access log line")
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    entry = next(e for e in entries if e["path"] == "/log-probe")
    assert entry["status"] == 200
    assert entry["upstream_addr"].split(":")[0] in REPLICAS
    assert isinstance(entry["request_time"], float)
    assert float(entry["upstream_response_time"]) >= 0
    assert len(entry["request_id"]) == 32


@pytest.mark.parametrize(("method", "status", "attempts"), [("GET", 200, 2), ("POST", 502, 1)])
def test_a_reset_is_retried_on_another_replica_only_when_idempotent(
    https: httpx.Client, edge: NginxProcess, method: str, status: int, attempts: int
) -> None:
    # The first replica reached resets the connection after reading the request:
    # proxy_next_upstream `error` sends a GET to the other replica; a POST may already
    # have been acted on, so nginx never resends it (no `non_idempotent`).
    token = uuid.uuid4().hex
    response = https.request(method, f"{RESET_ONCE.PREFIX}{token}", content=b"{}")
    assert response.status_code == status
    assert RESET_ONCE.attempts[token] == attempts
    errors = (edge.tree.root / "error.log").read_text()
    reset = "Connection reset by peer) while reading response header from upstream"
    assert any(reset in line and token in line for line in errors.splitlines()), errors[-2000:]

"""API keys on every /api route: 401 without a known key, 403 without the scope, both with
WWW-Authenticate, logged without the key and counted; probes stay open."""

import logging

import pytest
from conftest import API_KEYS, base_env, bearer
from fastapi.testclient import TestClient
from ora.settings import load_settings
from ora.web import OPENAPI_PATH, create_app
from prometheus_client.parser import text_string_to_metric_families

ROUTES = {
    "search": ("GET", "/api/v1/search?q=x", None),
    "job status": ("GET", "/api/v1/jobs/abc123", None),
    "add document": ("POST", "/api/v1/documents", {"text": "hello"}),
    "job reembed": ("POST", "/api/v1/jobs", {"kind": "reembed"}),
    "job loop_health": ("POST", "/api/v1/jobs", {"kind": "loop_health"}),
    "job sleep": ("POST", "/api/v1/jobs", {"kind": "sleep", "payload": {"seconds": 0}}),
    "job fail": ("POST", "/api/v1/jobs", {"kind": "fail"}),
}
# route -> status for: no key, bad key, read, write, admin (DIAGNOSTIC_JOBS off: sleep and
# fail are 403 for every key; the job-status id is unknown, so an authorized read is 404).
MATRIX = {
    "search": (401, 401, 200, 403, 403),
    "job status": (401, 401, 404, 403, 403),
    "add document": (401, 401, 403, 201, 403),
    "job reembed": (401, 401, 403, 403, 202),
    "job loop_health": (401, 401, 403, 403, 202),
    "job sleep": (401, 401, 403, 403, 403),
    "job fail": (401, 401, 403, 403, 403),
}
CALLERS = ("no key", "bad key", "reader", "writer", "admin")


def headers_for(caller):
    if caller == "no key":
        return {}
    if caller == "bad key":
        return {"Authorization": "Bearer not-a-known-key"}
    return bearer(caller)


@pytest.fixture
def anonymous(env):
    with TestClient(create_app(load_settings(env))) as test_client:
        yield test_client


def call(client, route, headers):
    method, path, body = ROUTES[route]
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(
    ("route", "caller", "expected"),
    [
        (route, caller, status)
        for route, statuses in MATRIX.items()
        for caller, status in zip(CALLERS, statuses, strict=True)
    ],
)
def test_auth_matrix(anonymous, route, caller, expected):
    response = call(anonymous, route, headers_for(caller))
    assert response.status_code == expected, response.text
    diagnostic_refusal = "DIAGNOSTIC_JOBS" in response.text
    if expected == 401 or (expected == 403 and not diagnostic_refusal):
        assert response.headers["www-authenticate"].startswith('Bearer realm="ora"')


@pytest.mark.parametrize(
    ("kind", "caller", "expected"),
    [
        ("sleep", "writer", 202),
        ("fail", "writer", 202),
        ("sleep", "admin", 403),
        ("sleep", "reader", 403),
    ],
)
def test_diagnostic_jobs_need_write_once_enabled(env, kind, caller, expected):
    settings = load_settings({**env, "DIAGNOSTIC_JOBS": "true"})
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/v1/jobs", json={"kind": kind}, headers=bearer(caller))
    assert response.status_code == expected


@pytest.mark.parametrize("kind", ["sleep", "fail"])
def test_diagnostic_jobs_are_refused_by_default_naming_why(client, kind):
    response = client.post("/api/v1/jobs", json={"kind": kind})
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"diagnostic jobs ({kind}) are disabled: DIAGNOSTIC_JOBS is not true"
    )


@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, 'Bearer realm="ora"'),
        ({"Authorization": "Bearer wrong"}, 'Bearer realm="ora", error="invalid_token"'),
        ({"Authorization": "Basic dXNlcjpwdw=="}, 'Bearer realm="ora", error="invalid_token"'),
        (bearer("writer"), 'Bearer realm="ora", error="insufficient_scope", scope="read"'),
    ],
)
def test_refusals_carry_the_challenge(anonymous, headers, challenge):
    response = anonymous.get("/api/v1/search?q=x", headers=headers)
    assert response.headers["www-authenticate"] == challenge


def test_admin_job_names_the_admin_scope(anonymous):
    response = call(anonymous, "job reembed", bearer("writer"))
    assert 'scope="admin"' in response.headers["www-authenticate"]


def failures(client):
    families = text_string_to_metric_families(client.get("/metrics").text)
    [family] = [f for f in families if f.name == "ora_auth_failures"]
    return {s.labels["reason"]: s.value for s in family.samples if s.name.endswith("_total")}


def test_failures_are_logged_without_the_key_and_counted(anonymous, caplog):
    before = failures(anonymous)
    assert set(before) == {"missing", "invalid", "insufficient_scope"}
    with caplog.at_level(logging.WARNING, logger="ora.auth"):
        anonymous.get("/api/v1/search?q=x")
        anonymous.get("/api/v1/search?q=x", headers={"Authorization": "Bearer secret-guess-1"})
        anonymous.get("/api/v1/search?q=x", headers=bearer("writer"))
    after = failures(anonymous)
    assert {reason: after[reason] - before[reason] for reason in after} == {
        "missing": 1,
        "invalid": 1,
        "insufficient_scope": 1,
    }
    fields = [r.fields for r in caplog.records if r.name == "ora.auth"]
    assert [f["reason"] for f in fields] == ["missing", "invalid", "insufficient_scope"]
    assert [f["key"] for f in fields] == [None, None, "writer"]
    assert {f["route"] for f in fields} == {"/api/v1/search"}
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "ora.auth")
    assert "secret-guess-1" not in caplog.text
    assert API_KEYS["writer"][1] not in caplog.text


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/static/robots.txt"])
def test_probes_and_static_need_no_key(anonymous, path):
    assert anonymous.get(path).status_code == 200


def test_without_a_keys_file_every_api_route_is_closed(redis_server, redis_client):
    settings = load_settings(base_env(redis_server.url))
    with TestClient(create_app(settings), headers=bearer("all")) as client:
        assert all(call(client, route, {}).status_code == 401 for route in ROUTES)


def test_search_can_be_opened_by_config(env):
    settings = load_settings({**env, "SEARCH_REQUIRES_KEY": "false"})
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/search?q=x").status_code == 200
        assert client.get("/api/v1/search?q=x", headers=bearer("writer")).status_code == 200
        bad = {"Authorization": "Bearer wrong"}
        assert client.get("/api/v1/search?q=x", headers=bad).status_code == 401
        assert client.get("/api/v1/jobs/abc").status_code == 401


def test_cached_search_hits_need_a_key_too(client, anonymous):
    client.post("/api/v1/documents", json={"text": "cached"})
    assert client.get("/api/v1/search?q=cached").headers["x-cache"] == "miss"
    assert client.get("/api/v1/search?q=cached").headers["x-cache"] == "hit"
    assert anonymous.get("/api/v1/search?q=cached").status_code == 401


def test_rotation_two_keys_with_the_same_scopes_both_work(tmp_path, env):
    from ora.apikeys import format_line

    keys = tmp_path / "keys"
    keys.write_text(
        format_line("ci", ["read"], "old-key-aaaaaaaaaaaa")
        + "\n"
        + format_line("ci-next", ["read"], "new-key-bbbbbbbbbbbb")
        + "\n"
    )
    settings = load_settings({**env, "API_KEYS_FILE": str(keys)})
    with TestClient(create_app(settings)) as client:
        statuses = [
            client.get("/api/v1/search?q=x", headers={"Authorization": f"Bearer {key}"})
            for key in ("old-key-aaaaaaaaaaaa", "new-key-bbbbbbbbbbbb", "retired-key-cccccc")
        ]
    assert [s.status_code for s in statuses] == [200, 200, 401]


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"])
def test_no_schema_or_docs_outside_the_api(anonymous, path):
    assert anonymous.get(path, headers=bearer("all")).status_code == 404


@pytest.mark.parametrize(("caller", "status"), [("no key", 401), ("bad key", 401), ("reader", 200)])
def test_openapi_schema_needs_an_api_key(anonymous, caller, status):
    assert anonymous.get(OPENAPI_PATH, headers=headers_for(caller)).status_code == status


def test_openapi_declares_the_bearer_scheme_on_every_api_route(anonymous):
    schema = anonymous.get(OPENAPI_PATH, headers=bearer("reader")).json()
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["apiKey"]["description"],
    }
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            declared = operation.get("security") == [{"apiKey": []}]
            assert declared == path.startswith("/api/"), path

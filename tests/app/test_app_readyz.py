"""/readyz follows its dependencies; /healthz never does."""

import logging

import pytest
from conftest import RedisServer, base_env, wait_for
from fastapi.testclient import TestClient
from ora.settings import load_settings
from ora.web import create_app


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_readyz_flips_to_503_without_detail_logs_it_and_recovers(own_redis, caplog):
    app = create_app(load_settings(base_env(own_redis.url)))
    with TestClient(app) as client:
        assert client.get("/readyz").json() == {"status": "ready"}

        own_redis.stop()
        with caplog.at_level(logging.WARNING, logger="ora.web"):
            down = wait_for(lambda: (r := client.get("/readyz")).status_code == 503 and r)
        assert down.json() == {"status": "unavailable"}  # no dependency, no exception class
        [record, *_] = [r for r in caplog.records if r.getMessage() == "not ready"]
        assert record.levelno == logging.WARNING
        assert record.fields["failing"] == ["redis"]
        assert record.fields["checks"]["redis"].startswith("unavailable: ")
        assert client.get("/healthz").json() == {"status": "ok"}

        own_redis.start()
        up = wait_for(lambda: (r := client.get("/readyz")).status_code == 200 and r)
        assert up.json()["status"] == "ready"


def test_healthz_answers_without_dependencies(tmp_path):
    unreachable = base_env("redis://:pw@127.0.0.1:1/0")
    with TestClient(create_app(load_settings(unreachable))) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 503


def test_probes_accept_any_host_but_the_api_only_allowed_hosts(client):
    assert client.get("/healthz", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/metrics", headers={"Host": "app:8000"}).status_code == 200
    api = "/api/v1/search?q=x"
    assert client.get(api, headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/readyz", headers={"Host": "evil.example"}).status_code == 200
    assert client.get(api, headers={"Host": "ora.example.com"}).status_code == 200

"""Bounds on writes, each with a clear error naming its setting, against real Redis."""

import asyncio
import time

import pytest
from conftest import bearer
from fastapi import HTTPException
from fastapi.testclient import TestClient
from ora.documents import DocumentStore
from ora.limits import QUOTA_PREFIX, RATE_PREFIX, WINDOW_SECONDS, WriteRateLimiter
from ora.queue import READY
from ora.resources import make_redis
from ora.settings import load_settings
from ora.web import create_app


@pytest.fixture
def limited(env):
    def make(**overrides):
        settings = load_settings({**env, **{k.upper(): str(v) for k, v in overrides.items()}})
        return TestClient(create_app(settings), headers=bearer("all"))

    return make


def fresh_window(margin: float = 15.0) -> None:
    """Start where the one-minute window has `margin` seconds left at least, so the test's
    few requests all fall in one window."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < margin:
        time.sleep(left + 0.1)


def test_write_rate_per_key_answers_429_with_retry_after(limited, redis_client):
    fresh_window()
    with limited(write_rate_per_minute=3) as client:
        statuses = [
            client.post("/api/v1/documents", json={"text": f"doc {i}"}).status_code
            for i in range(4)
        ]
        refused = client.post("/api/v1/jobs", json={"kind": "loop_health"})
        other_key = client.post(
            "/api/v1/documents", json={"text": "writer"}, headers=bearer("writer")
        )
        reads = client.get("/api/v1/search?q=doc")
    assert statuses[:3] == [201, 201, 201]
    assert statuses[3] == 429
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "WRITE_RATE_PER_MINUTE=3" in refused.json()["detail"]
    assert other_key.status_code == 201  # the limit is per key
    assert reads.status_code == 200  # reads are not counted
    counters = redis_client.keys(RATE_PREFIX + "*")
    assert counters and all(0 < redis_client.ttl(key) <= 60 for key in counters)


def test_rate_window_resets_at_the_next_minute(env, redis_client):
    async def scenario():
        redis = make_redis(load_settings(env))
        limiter = WriteRateLimiter(redis, per_minute=1)
        try:
            await limiter.hit("k", now=120.0)
            try:
                await limiter.hit("k", now=150.5)
            except HTTPException as error:
                refused = error
            await limiter.hit("k", now=180.0)  # a new window
            return refused
        finally:
            await redis.aclose()

    refused = asyncio.run(scenario())
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "30")


@pytest.mark.parametrize(
    ("body", "setting"),
    [
        ({"text": "é" * 51}, "MAX_DOCUMENT_BYTES=100"),  # 102 bytes in UTF-8
        ({"text": "ok", "metadata": {"k": "v" * 100}}, "MAX_METADATA_BYTES=100"),
    ],
)
def test_document_sizes_are_bounded_with_413(limited, body, setting):
    with limited(max_document_bytes=100, max_metadata_bytes=100) as client:
        response = client.post("/api/v1/documents", json=body)
        at_limit = client.post("/api/v1/documents", json={"text": "a" * 100})
    assert response.status_code == 413
    assert setting in response.json()["detail"]
    assert at_limit.status_code == 201


def test_job_payload_is_bounded_with_413(limited):
    with limited(max_job_payload_bytes=50) as client:
        response = client.post(
            "/api/v1/jobs", json={"kind": "loop_health", "payload": {"x": "y" * 50}}
        )
    assert response.status_code == 413
    assert "MAX_JOB_PAYLOAD_BYTES=50" in response.json()["detail"]


def test_document_count_is_bounded(limited):
    with limited(max_documents=2) as client:
        statuses = [
            client.post("/api/v1/documents", json={"text": f"d{i}"}).status_code for i in range(3)
        ]
        refused = client.post("/api/v1/documents", json={"text": "more"})
    assert statuses == [201, 201, 503]
    assert "MAX_DOCUMENTS=2" in refused.json()["detail"]


def test_documents_per_key_are_bounded_and_counted_per_key(limited, redis_client):
    with limited(max_documents_per_key=2) as client:
        statuses = [
            client.post("/api/v1/documents", json={"text": f"d{i}"}).status_code for i in range(3)
        ]
        refused = client.post("/api/v1/documents", json={"text": "more"})
        other_key = client.post("/api/v1/documents", json={"text": "w"}, headers=bearer("writer"))
    assert statuses == [201, 201, 403]
    assert "MAX_DOCUMENTS_PER_KEY=2" in refused.json()["detail"]
    assert other_key.status_code == 201
    assert int(redis_client.get(QUOTA_PREFIX + "all")) == 2
    assert redis_client.ttl(QUOTA_PREFIX + "all") == -1  # never expires, never evicted


def test_a_failed_store_write_gives_its_quota_back(env, redis_client, monkeypatch):
    async def broken_add(self, text, metadata):
        raise RuntimeError("qdrant is down")

    monkeypatch.setattr(DocumentStore, "add", broken_add)
    settings = load_settings({**env, "MAX_DOCUMENTS_PER_KEY": "1"})
    app = create_app(settings)
    with TestClient(app, headers=bearer("all"), raise_server_exceptions=False) as client:
        statuses = [client.post("/api/v1/documents", json={"text": "x"}).status_code]
        statuses.append(client.post("/api/v1/documents", json={"text": "x"}).status_code)
    assert statuses == [500, 500]  # the second is not refused by the quota
    assert int(redis_client.get(QUOTA_PREFIX + "all")) == 0


def test_queued_jobs_are_bounded(limited, redis_client):
    with limited(max_queued_jobs=2) as client:
        statuses = [
            client.post("/api/v1/jobs", json={"kind": "loop_health"}).status_code for _ in range(3)
        ]
        refused = client.post("/api/v1/jobs", json={"kind": "loop_health"})
    assert statuses == [202, 202, 503]
    assert "MAX_QUEUED_JOBS=2" in refused.json()["detail"]
    assert refused.headers["retry-after"]
    assert redis_client.llen(READY) == 2

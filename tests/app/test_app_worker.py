"""Jobs enqueued through the API and processed by a real `python -m ora.worker` process."""

import pytest
from conftest import wait_for
from ora.queue import DEAD, DELAYED, JOB_PREFIX, LEASES, PROCESSING, READY
from ora.scheduler import LOG_KEY


@pytest.fixture
def env(env):
    """These tests drill retries with the diagnostic kinds, off by default."""
    return {**env, "DIAGNOSTIC_JOBS": "true", "DEAD_LETTER_TTL_SECONDS": "3600"}


def job_status(client, job_id):
    response = client.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


def finished(client, job_id):
    status = job_status(client, job_id)
    return status if status["status"] in ("done", "dead") else None


def test_worker_process_runs_enqueued_jobs(client, start_worker):
    client.post("/api/v1/documents", json={"text": "stored before the worker starts"})
    ids = [
        client.post("/api/v1/jobs", json={"kind": kind}).json()["id"]
        for kind in ("loop_health", "reembed")
    ]
    start_worker()
    results = [wait_for(lambda job_id=job_id: finished(client, job_id)) for job_id in ids]
    assert [r["status"] for r in results] == ["done", "done"]
    assert results[0]["attempts"] == 1
    assert results[0]["result"]["scheduled"] is False  # run by hand: not the scheduler's run
    assert results[1]["result"]["embedder"] == "local-hash-256"


def test_crashing_job_is_retried_then_dead_lettered(client, redis_client, start_worker):
    job_id = client.post("/api/v1/jobs", json={"kind": "fail", "payload": {"message": "boom"}})
    job_id = job_id.json()["id"]
    start_worker()
    status = wait_for(lambda: finished(client, job_id))
    assert status["status"] == "dead"
    assert status["attempts"] == 3  # JOB_MAX_ATTEMPTS in the test environment
    assert status["error"] == "RuntimeError: boom"
    assert redis_client.lrange(DEAD, 0, -1) == [job_id.encode()]
    assert redis_client.llen(PROCESSING) == 0
    assert 3500 < redis_client.ttl(JOB_PREFIX + job_id) <= 3600  # DEAD_LETTER_TTL_SECONDS


def test_queue_keys_never_carry_a_ttl(client, redis_client, start_worker):
    client.post("/api/v1/jobs", json={"kind": "sleep", "payload": {"seconds": 0.01}})
    client.post("/api/v1/jobs", json={"kind": "fail"})
    start_worker()
    wait_for(lambda: redis_client.llen(DEAD) == 1)
    for key in (READY, PROCESSING, DELAYED, LEASES, DEAD, LOG_KEY):
        assert redis_client.ttl(key) in (-1, -2), key  # -2: currently empty, so absent


def test_unknown_job_kind_is_rejected(client):
    assert client.post("/api/v1/jobs", json={"kind": "rm -rf"}).status_code == 422


def test_unknown_job_id_is_404(client):
    assert client.get("/api/v1/jobs/doesnotexist").status_code == 404

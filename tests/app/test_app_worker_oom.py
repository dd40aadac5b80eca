"""A full Redis (maxmemory, noeviction) makes the worker back off, not crash-loop; it
resumes by itself once there is room again."""

import asyncio
import json

import pytest
import redis
from conftest import RedisServer, base_env, wait_for
from ora.queue import JobQueue
from ora.resources import make_redis
from ora.settings import load_settings

FILLER = "test:filler:"


@pytest.fixture
def full_redis(tmp_path):
    server = RedisServer(tmp_path, eviction="noeviction")
    server.start()
    yield server
    server.stop()


def fill_until_oom(client: redis.Redis) -> int:
    used = client.info("memory")["used_memory"]
    client.config_set("maxmemory", used + 512 * 1024)
    for index in range(10_000):
        try:
            client.set(f"{FILLER}{index}", "x" * 10_000)
        except redis.exceptions.OutOfMemoryError:
            return index
    pytest.fail("Redis never reported OOM")


def log_messages(path):
    lines = path.read_text().splitlines()
    return [json.loads(line).get("msg") for line in lines if line.startswith("{")]


def test_worker_survives_redis_oom_and_resumes(full_redis, start_worker, tmp_path):
    env = base_env(full_redis.url)

    async def enqueue():
        client = make_redis(load_settings(env))
        try:
            return await JobQueue(client, 10, 3, 0.05).enqueue("loop_health")
        finally:
            await client.aclose()

    job_id = asyncio.run(enqueue())
    with full_redis.client() as client:
        filled = fill_until_oom(client)
        worker = start_worker(REDIS_URL=full_redis.url, LOOP_HEALTH_INTERVAL="3600")
        log = tmp_path / "worker-0.log"
        wait_for(lambda: log_messages(log).count("redis out of memory, backing off") >= 2)
        assert worker.poll() is None, "the worker exited on OOM"
        assert client.hget(f"ora:job:{job_id}", "status") == b"queued"

        client.delete(*(f"{FILLER}{i}" for i in range(filled)))
        wait_for(lambda: client.hget(f"ora:job:{job_id}", "status") == b"done", timeout=60)
        assert worker.poll() is None

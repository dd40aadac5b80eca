"""The queue's delivery guarantees, driven directly against real Redis."""

import asyncio
import time

import pytest
from ora.queue import DEAD, JOB_PREFIX, PROCESSING, READY, JobQueue
from ora.resources import make_redis
from ora.scheduler import LOG_KEY, LOG_MAX_ENTRIES, Periodic, Scheduler
from ora.settings import load_settings


def run(env, scenario, **queue_options):
    """Run scenario(queue, redis) in a fresh event loop with a fresh client."""

    async def main():
        redis = make_redis(load_settings(env))
        options = {"visibility_timeout": 0.2, "max_attempts": 2, "backoff_base": 0.05}
        queue = JobQueue(redis, **{**options, **queue_options})
        try:
            return await scenario(queue, redis)
        finally:
            await redis.aclose()

    return asyncio.run(main())


def test_stale_in_flight_job_is_requeued_by_the_reaper(env):
    async def scenario(queue, redis):
        job_id = await queue.enqueue("sleep")
        first = await queue.reserve(timeout=1)  # then this "worker" dies without acking
        deadline = time.monotonic() + 30
        while await queue.reap_stale() == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        second = await queue.reserve(timeout=1)
        return job_id, first, second

    job_id, first, second = run(env, scenario)
    assert (first.id, first.attempts) == (job_id, 1)
    assert (second.id, second.attempts) == (job_id, 2)


def test_job_out_of_attempts_is_dead_lettered_by_the_reaper(env, redis_client):
    async def scenario(queue, redis):
        job_id = await queue.enqueue("sleep")
        for _ in range(2):
            await queue.reserve(timeout=1)
            while await queue.reap_stale() == 0:
                await asyncio.sleep(0.05)
        return job_id, await queue.status(job_id)

    job_id, status = run(env, scenario)
    assert status["status"] == "dead"
    assert redis_client.lrange(DEAD, 0, -1) == [job_id.encode()]


def test_job_left_in_processing_without_a_lease_is_recovered(env, redis_client):
    async def scenario(queue, redis):
        job_id = await queue.enqueue("sleep")
        await redis.lmove(READY, PROCESSING, "RIGHT", "LEFT")  # worker died right after BLMOVE
        await queue.reap_stale()  # grants the missing lease
        deadline = time.monotonic() + 30
        while await queue.reap_stale() == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return job_id

    job_id = run(env, scenario)
    assert redis_client.lrange(READY, 0, -1) == [job_id.encode()]


def test_failed_job_waits_in_the_delayed_set_then_returns(env):
    async def scenario(queue, redis):
        await queue.enqueue("fail")
        job = await queue.reserve(timeout=1)
        status = await queue.fail(job, "boom")
        immediately = await queue.reserve(timeout=0.01)
        deadline = time.monotonic() + 30
        while await queue.promote_due() == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return status, immediately, await queue.reserve(timeout=1)

    status, immediately, retried = run(env, scenario, backoff_base=0.3)
    assert status == "retrying"
    assert immediately is None
    assert retried.attempts == 2


@pytest.mark.parametrize("ticks", [1, LOG_MAX_ENTRIES + 25])
def test_scheduler_log_stays_bounded(env, redis_client, ticks):
    async def scenario(queue, redis):
        scheduler = Scheduler(redis, queue, [Periodic("loop_health", 3600)])
        await scheduler.tick()
        await scheduler.tick()  # the slot is taken: no second job
        for _ in range(ticks - 1):
            await scheduler.record({"event": "test"})

    run(env, scenario)
    assert redis_client.llen(READY) == 1
    assert redis_client.llen(LOG_KEY) == min(ticks, LOG_MAX_ENTRIES)


def test_dead_lettered_records_expire_and_leave_the_dead_list(env, redis_client):
    async def scenario(queue, redis):
        by_fail = await queue.enqueue("fail")
        job = await queue.reserve(timeout=1)
        await queue.fail(job, "boom")
        while (await queue.status(by_fail))["status"] != "dead":
            await queue.promote_due()
            retry = await queue.reserve(timeout=1)
            if retry is not None:
                await queue.fail(retry, "boom")
        by_reaper = await queue.enqueue("sleep")
        for _ in range(2):
            await queue.reserve(timeout=1)
            while await queue.reap_stale() == 0:
                await asyncio.sleep(0.05)
        return by_fail, by_reaper

    ids = run(env, scenario, dead_letter_ttl=600)
    assert sorted(redis_client.lrange(DEAD, 0, -1)) == sorted(i.encode() for i in ids)
    assert all(500 < redis_client.ttl(JOB_PREFIX + i) <= 600 for i in ids)

    redis_client.delete(JOB_PREFIX + ids[0])  # as if its TTL ran out
    run(env, lambda queue, redis: queue.reap_stale())
    assert redis_client.lrange(DEAD, 0, -1) == [ids[1].encode()]


def test_enqueue_refuses_past_max_depth_atomically(env, redis_client):
    async def scenario(queue, redis):
        results = await asyncio.gather(
            *(queue.enqueue("loop_health", max_depth=5) for _ in range(8)),
            return_exceptions=True,
        )
        return [type(r).__name__ if isinstance(r, Exception) else "ok" for r in results]

    outcomes = run(env, scenario)
    assert sorted(outcomes) == ["QueueFull"] * 3 + ["ok"] * 5
    assert redis_client.llen(READY) == 5

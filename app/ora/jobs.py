"""Background job handlers, run by `python -m ora.worker`."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from ora.cache import GENERATION_KEY
from ora.documents import DocumentStore
from ora.logs import SCHEDULER_LOGGER, log
from ora.queue import JobQueue
from ora.scheduler import LOOP_JOB, record_run
from ora.settings import Settings

REEMBED_LOCK = "ora:lock:reembed"
# Release the lock only if it is still ours (it may have expired and been taken since).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"


class ReembedRunning(RuntimeError):
    """Another worker holds the reembed lock; the job is retried later."""


@dataclass
class JobContext:
    settings: Settings
    redis: Redis
    queue: JobQueue
    store: DocumentStore


Handler = Callable[[dict, JobContext], Awaitable[object]]


async def reembed(payload: dict, ctx: JobContext) -> dict:
    """One at a time across workers: a lock with a TTL of the job's lease."""
    token = uuid.uuid4().hex
    lease = max(1, math.ceil(ctx.settings.job_visibility_timeout))
    if not await ctx.redis.set(REEMBED_LOCK, token, nx=True, ex=lease):
        raise ReembedRunning("another reembed is running")
    try:
        count = await ctx.store.reembed()
    finally:
        await ctx.redis.eval(_RELEASE, 1, REEMBED_LOCK, token)
    await ctx.redis.incr(GENERATION_KEY)  # cached results hold the old vectors' scores
    return {"reembedded": count, "embedder": ctx.store.embedder.name}


async def loop_health(payload: dict, ctx: JobContext) -> dict:
    """The scheduler's heartbeat: a scheduled run stamps the loop's last run (a metric).

    Failure rates and queue depths are Prometheus' to compute and Alertmanager's to send
    (infra/monitoring_rules.py: JobFailureRate, SchedulerStale, QueueDepth, DeadLetters).
    """
    at = time.time()
    if payload.get("scheduled"):
        await record_run(ctx.redis, at)
    result = {
        "at": at,
        "scheduled": bool(payload.get("scheduled")),
        "queues": await ctx.queue.depths(),
    }
    # The loop's state on the scheduler's stream (scheduler.log), whoever asked for the run.
    log(logging.getLogger(SCHEDULER_LOGGER), logging.INFO, "loop health", **result)
    return result


async def fail(payload: dict, ctx: JobContext) -> None:
    """Diagnostic: always raises, to exercise retries, dead-lettering and the failure alert."""
    raise RuntimeError(payload.get("message", "diagnostic failure"))


async def sleep(payload: dict, ctx: JobContext) -> dict:
    """Diagnostic: holds the worker for `seconds` (visibility-timeout drills)."""
    seconds = min(float(payload.get("seconds", 1)), 3600.0)
    await asyncio.sleep(seconds)
    return {"slept": seconds}


HANDLERS: dict[str, Handler] = {
    "reembed": reembed,
    LOOP_JOB: loop_health,
    "fail": fail,
    "sleep": sleep,
}

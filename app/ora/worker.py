"""`python -m ora.worker`: consume the job queue, run the scheduler, serve /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemoryError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ora.healthcheck import HEARTBEAT_FILE
from ora.jobs import HANDLERS, JobContext
from ora.logs import configure, log
from ora.queue import Job
from ora.resources import make_resources
from ora.scheduler import LOOP_JOB, Periodic, Scheduler
from ora.settings import Settings, load_settings_or_exit
from ora.worker_metrics import bind, serving

logger = logging.getLogger("ora.worker")
POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0  # under the healthcheck's heartbeat age (60 s)


async def run_job(job: Job, ctx: JobContext) -> None:
    handler = HANDLERS.get(job.kind)
    try:
        if handler is None:
            raise LookupError(f"unknown job kind {job.kind!r}")
        # A job never outlives its lease: past it the reaper would hand it to another worker.
        result = await asyncio.wait_for(
            handler(job.payload, ctx), timeout=ctx.settings.job_visibility_timeout * 0.9
        )
    except Exception as error:
        status = await ctx.queue.fail(job, f"{type(error).__name__}: {error}")
        log(
            logger,
            logging.WARNING,
            "job failed",
            job=job.id,
            kind=job.kind,
            attempt=job.attempts,
            status=status,
            error=str(error),
        )
        return
    await ctx.queue.ack(job, result)
    log(logger, logging.INFO, "job done", job=job.id, kind=job.kind, attempt=job.attempts)


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    try:
        sock = bind(settings.worker_metrics_port)
    except OSError as error:
        log(
            logger,
            logging.ERROR,
            "cannot serve /metrics",
            port=settings.worker_metrics_port,
            error=str(error),
        )
        raise SystemExit(2) from None
    resources = make_resources(settings)
    ctx = JobContext(settings, resources.redis, resources.queue, resources.store)
    scheduler = Scheduler(
        resources.redis, resources.queue, [Periodic(LOOP_JOB, settings.loop_health_interval)]
    )
    log(logger, logging.INFO, "worker started", pid=os.getpid())
    try:
        async with serving(sock, resources.queue, HANDLERS):
            await consume(resources, scheduler, ctx, stop)
    finally:
        await resources.aclose()
        log(logger, logging.INFO, "worker stopped", pid=os.getpid())


async def consume(resources, scheduler: Scheduler, ctx: JobContext, stop: asyncio.Event) -> None:
    backoff = POLL_SECONDS
    while not stop.is_set():
        try:
            Path(HEARTBEAT_FILE).touch()
            await resources.queue.promote_due()
            await resources.queue.reap_stale()
            await scheduler.tick()
            job = await resources.queue.reserve(timeout=POLL_SECONDS)
            if job is not None:
                await run_job(job, ctx)
            backoff = POLL_SECONDS
            continue
        except (RedisConnectionError, RedisTimeoutError) as error:
            problem, detail = "redis unavailable, retrying", str(error)
        except RedisOutOfMemoryError as error:
            # Redis refuses writes at maxmemory (noeviction for the queue's keys): wait for
            # room. An in-flight job keeps its lease and is redelivered by the reaper.
            problem, detail = "redis out of memory, backing off", str(error)
        log(logger, logging.ERROR, problem, error=detail, retry_in=backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)


def main() -> None:
    settings = load_settings_or_exit(os.environ)
    configure(settings.log_level, settings.log_dir, "worker")

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    asyncio.run(runner())


if __name__ == "__main__":
    main()

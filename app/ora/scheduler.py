"""Periodic jobs, enqueued by whichever worker takes the slot; its log is a capped list.

The scheduler's own periodic job, `loop_health`, stamps LAST_RUN_KEY when a worker runs it:
its age (ora_scheduler_last_run_timestamp_seconds) shows that the whole loop turns,
scheduler -> queue -> worker, and the SchedulerStale alert watches it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from ora.logs import SCHEDULER_LOGGER, log
from ora.queue import JobQueue

logger = logging.getLogger(SCHEDULER_LOGGER)  # scheduler.log with ORA_LOG_DIR (ora.logs)

LOG_KEY = "ora:scheduler:log"
LOG_MAX_ENTRIES = 100
SLOT_PREFIX = "ora:scheduler:slot:"
LAST_RUN_KEY = "ora:scheduler:last_run"
LOOP_JOB = "loop_health"


async def record_run(redis: Redis, at: float) -> None:
    await redis.set(LAST_RUN_KEY, repr(at))


async def last_run(redis: Redis) -> float | None:
    """Unix time of the loop's last run, or None before the first one."""
    raw = await redis.get(LAST_RUN_KEY)
    return None if raw is None else float(raw)


@dataclass(frozen=True)
class Periodic:
    kind: str
    interval: float


class Scheduler:
    def __init__(self, redis: Redis, queue: JobQueue, periodic: list[Periodic]) -> None:
        self.redis = redis
        self.queue = queue
        self.periodic = periodic

    async def tick(self) -> list[str]:
        """Enqueue every periodic job whose slot is free; a slot is a key with a TTL."""
        enqueued = []
        for item in self.periodic:
            slot = await self.redis.set(
                SLOT_PREFIX + item.kind, "1", nx=True, px=int(item.interval * 1000)
            )
            if slot:
                job_id = await self.queue.enqueue(item.kind, {"scheduled": True})
                await self.record({"event": "enqueued", "kind": item.kind, "job": job_id})
                enqueued.append(job_id)
        return enqueued

    async def record(self, entry: dict) -> None:
        """The scheduler's log: the capped list in Redis, and a line on its own stream."""
        log(logger, logging.INFO, f"scheduler {entry.get('event', 'event')}", **entry)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(LOG_KEY, json.dumps({"at": time.time(), **entry}))
            pipe.ltrim(LOG_KEY, 0, LOG_MAX_ENTRIES - 1)
            await pipe.execute()

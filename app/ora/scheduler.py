"""Periodic jobs, enqueued by whichever worker takes the slot; its log is a capped list."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from ora.queue import JobQueue

LOG_KEY = "ora:scheduler:log"
LOG_MAX_ENTRIES = 100
SLOT_PREFIX = "ora:scheduler:slot:"


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
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(LOG_KEY, json.dumps({"at": time.time(), **entry}))
            pipe.ltrim(LOG_KEY, 0, LOG_MAX_ENTRIES - 1)
            await pipe.execute()

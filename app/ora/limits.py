"""Bounds on what one client can make the service store: a per-key write rate and a per-key
document quota in Redis, and sizes. Each refusal is an HTTPException whose detail names the
setting that bounds it."""

from __future__ import annotations

import json
import math
import time

from fastapi import HTTPException
from redis.asyncio import Redis
from redis.exceptions import RedisError

RATE_PREFIX = "ora:rate:write:"
QUOTA_PREFIX = "ora:quota:documents:"
WINDOW_SECONDS = 60


def json_bytes(value: object) -> int:
    """The size of `value` as the service stores it: compact JSON, UTF-8."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def check_size(what: str, size: int, setting: str, limit: int) -> None:
    if size > limit:
        raise HTTPException(413, f"{what} is {size} bytes; the limit is {setting}={limit} bytes")


class WriteRateLimiter:
    """A fixed one-minute window per key name; the counter key expires with its window, so
    it is evictable and never outlives a minute."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self.redis = redis
        self.per_minute = per_minute

    async def hit(self, key_name: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS)
        counter = f"{RATE_PREFIX}{key_name}:{window}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(counter, 0, ex=WINDOW_SECONDS, nx=True)
                pipe.incr(counter)
                _, count = await pipe.execute()
        except RedisError as error:
            raise HTTPException(503, "the write rate limiter is unavailable") from error
        if count > self.per_minute:
            retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
            raise HTTPException(
                429,
                f"more than WRITE_RATE_PER_MINUTE={self.per_minute} writes this minute "
                "for this API key",
                headers={"Retry-After": str(retry_after)},
            )


class DocumentQuota:
    """Documents stored per key name, counted in Redis. The counter has no expiry, so
    volatile-lru never evicts it and the AOF keeps it; it is taken before the store is
    written and given back if that write fails."""

    def __init__(self, redis: Redis, per_key: int) -> None:
        self.redis = redis
        self.per_key = per_key

    async def take(self, key_name: str) -> None:
        try:
            count = await self.redis.incr(QUOTA_PREFIX + key_name)
            if count > self.per_key:
                await self.redis.decr(QUOTA_PREFIX + key_name)
        except RedisError as error:
            raise HTTPException(503, "the document quota is unavailable") from error
        if count > self.per_key:
            raise HTTPException(
                403,
                f"this API key has stored {count - 1} documents: "
                f"MAX_DOCUMENTS_PER_KEY={self.per_key} reached",
            )

    async def give_back(self, key_name: str) -> None:
        await self.redis.decr(QUOTA_PREFIX + key_name)

"""Search results cached in Redis under a TTL, invalidated by a generation counter.

Cache keys always carry a TTL, so Redis' `volatile-lru` policy may evict them; the
generation counter and the queue keys carry none, so they are never evicted.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

GENERATION_KEY = "ora:cache:gen"
ENTRY_PREFIX = "ora:cache:search:"

# One round trip: read the generation, then the entry stored under it.
_LOOKUP = """
local gen = redis.call('GET', KEYS[1]) or '0'
return {gen, redis.call('GET', ARGV[1] .. gen .. ':' .. ARGV[2])}
"""


class SearchCache:
    def __init__(self, redis: Redis, ttl: int) -> None:
        self.redis = redis
        self.ttl = ttl
        self._lookup = redis.register_script(_LOOKUP)

    @staticmethod
    def digest(query: str, limit: int) -> str:
        return hashlib.sha256(f"{limit}\x00{query}".encode()).hexdigest()

    async def get(self, query: str, limit: int) -> tuple[str, bytes | None]:
        """Return (generation, cached bytes or None); store under that same generation."""
        gen, value = await self._lookup(
            keys=[GENERATION_KEY], args=[ENTRY_PREFIX, self.digest(query, limit)]
        )
        return gen.decode() if isinstance(gen, bytes) else str(gen), value

    async def put(self, generation: str, query: str, limit: int, body: bytes) -> None:
        key = f"{ENTRY_PREFIX}{generation}:{self.digest(query, limit)}"
        await self.redis.set(key, body, ex=self.ttl)

    async def invalidate(self) -> int:
        return await self.redis.incr(GENERATION_KEY)

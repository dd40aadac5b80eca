"""A reliable Redis job queue: at-least-once delivery with visibility timeouts,
exponential-backoff retries and a dead-letter list.

Queue keys never carry a TTL: with `maxmemory-policy volatile-lru` Redis never evicts
them. A finished job's record gets a TTL, as it is no longer needed for delivery.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

READY = "ora:q:ready"
PROCESSING = "ora:q:processing"
DELAYED = "ora:q:delayed"
LEASES = "ora:q:leases"
DEAD = "ora:q:dead"
JOB_PREFIX = "ora:job:"
FAILURES = "ora:stats:job_failures"
RUNS = "ora:stats:job_runs"
FINISHED_JOB_TTL = 7 * 24 * 3600
DEAD_PRUNE_BATCH = 100


class QueueFull(Exception):
    """The queue already holds `max_depth` jobs (ready + delayed + processing)."""


# Check the depth and add the job in one step, so concurrent writers cannot overshoot.
_ENQUEUE = """
local depth = redis.call('LLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2])
  + redis.call('LLEN', KEYS[3])
if tonumber(ARGV[1]) >= 0 and depth >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[4], 'id', ARGV[2], 'kind', ARGV[3], 'payload', ARGV[4],
  'status', 'queued', 'attempts', 0, 'created', ARGV[5])
redis.call('LPUSH', KEYS[1], ARGV[2])
return 1
"""

# Due delayed jobs move to the ready list, atomically (no duplicates across workers).
_PROMOTE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    redis.call('LPUSH', KEYS[2], id)
    redis.call('HSET', ARGV[2] .. id, 'status', 'queued')
  end
end
return #ids
"""

# In-flight jobs whose lease expired go back to ready (or dead when out of attempts).
# A job in PROCESSING without a lease (its worker died right after BLMOVE) gets one now.
_REAP = """
local now, max_attempts, prefix, deadline = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local dead_ttl, prune = tonumber(ARGV[5]), tonumber(ARGV[6])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
local reaped = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  if redis.call('LREM', KEYS[2], 1, id) > 0 then
    reaped = reaped + 1
    local attempts = tonumber(redis.call('HGET', prefix .. id, 'attempts') or '0')
    if attempts >= max_attempts then
      redis.call('LPUSH', KEYS[4], id)
      redis.call('HSET', prefix .. id, 'status', 'dead', 'error', 'visibility timeout exceeded')
      redis.call('EXPIRE', prefix .. id, dead_ttl)
    else
      redis.call('LPUSH', KEYS[3], id)
      redis.call('HSET', prefix .. id, 'status', 'queued')
    end
  end
end
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  redis.call('ZADD', KEYS[1], 'NX', deadline, id)
end
-- The dead list's oldest ids are at its tail: drop those whose record has expired.
for _ = 1, prune do
  local oldest = redis.call('LINDEX', KEYS[4], -1)
  if not oldest or redis.call('EXISTS', prefix .. oldest) == 1 then
    break
  end
  redis.call('RPOP', KEYS[4])
end
return reaped
"""


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    payload: dict
    attempts: int


class JobQueue:
    def __init__(
        self,
        redis: Redis,
        visibility_timeout: float,
        max_attempts: int,
        backoff_base: float,
        dead_letter_ttl: int = FINISHED_JOB_TTL,
    ) -> None:
        self.redis = redis
        self.visibility_timeout = visibility_timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.dead_letter_ttl = dead_letter_ttl
        self._enqueue = redis.register_script(_ENQUEUE)
        self._promote = redis.register_script(_PROMOTE)
        self._reap = redis.register_script(_REAP)

    async def enqueue(
        self, kind: str, payload: dict | None = None, max_depth: int | None = None
    ) -> str:
        """Add a job; QueueFull if `max_depth` jobs are already waiting or running."""
        job_id = uuid.uuid4().hex
        added = await self._enqueue(
            keys=[READY, DELAYED, PROCESSING, JOB_PREFIX + job_id],
            args=[
                -1 if max_depth is None else max_depth,
                job_id,
                kind,
                json.dumps(payload or {}),
                time.time(),
            ],
        )
        if not added:
            raise QueueFull(max_depth)
        return job_id

    async def status(self, job_id: str) -> dict | None:
        raw = await self.redis.hgetall(JOB_PREFIX + job_id)
        if not raw:
            return None
        record = {k.decode(): v.decode() for k, v in raw.items()}
        return {
            "id": record["id"],
            "kind": record["kind"],
            "status": record["status"],
            "attempts": int(record.get("attempts", 0)),
            "result": json.loads(record["result"]) if "result" in record else None,
            "error": record.get("error"),
        }

    async def reserve(self, timeout: float) -> Job | None:
        """Move one job to PROCESSING (BLMOVE) and lease it for the visibility timeout."""
        raw_id = await self.redis.blmove(READY, PROCESSING, timeout, "RIGHT", "LEFT")
        if raw_id is None:
            return None
        job_id = raw_id.decode()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(LEASES, {job_id: time.time() + self.visibility_timeout})
            pipe.hincrby(JOB_PREFIX + job_id, "attempts", 1)
            pipe.hset(JOB_PREFIX + job_id, mapping={"status": "running", "started": time.time()})
            pipe.hmget(JOB_PREFIX + job_id, ["kind", "payload"])
            _, attempts, _, (kind, payload) = await pipe.execute()
        if kind is None:  # record lost: drop the orphan id rather than loop on it
            await self._finish(job_id, "dead", {"error": "job record missing"})
            return None
        return Job(job_id, kind.decode(), json.loads(payload or b"{}"), attempts)

    async def ack(self, job: Job, result: object) -> None:
        await self._finish(job.id, "done", {"result": json.dumps(result)}, kind=job.kind)

    async def fail(self, job: Job, error: str) -> str:
        """Schedule a retry with exponential backoff, or dead-letter; return the new status."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(FAILURES, job.kind, 1)
            pipe.hincrby(RUNS, job.kind, 1)
            pipe.lrem(PROCESSING, 1, job.id)
            pipe.zrem(LEASES, job.id)
            if job.attempts < self.max_attempts:
                due = time.time() + self.backoff_base * 2 ** (job.attempts - 1)
                pipe.zadd(DELAYED, {job.id: due})
                pipe.hset(JOB_PREFIX + job.id, mapping={"status": "retrying", "error": error})
                status = "retrying"
            else:
                pipe.lpush(DEAD, job.id)
                pipe.hset(JOB_PREFIX + job.id, mapping={"status": "dead", "error": error})
                pipe.expire(JOB_PREFIX + job.id, self.dead_letter_ttl)
                status = "dead"
            await pipe.execute()
        return status

    async def _finish(self, job_id: str, status: str, fields: dict, kind: str = "") -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            if kind:
                pipe.hincrby(RUNS, kind, 1)
            pipe.lrem(PROCESSING, 1, job_id)
            pipe.zrem(LEASES, job_id)
            pipe.hset(JOB_PREFIX + job_id, mapping={"status": status, **fields})
            pipe.expire(JOB_PREFIX + job_id, FINISHED_JOB_TTL)
            await pipe.execute()

    async def promote_due(self) -> int:
        return await self._promote(keys=[DELAYED, READY], args=[time.time(), JOB_PREFIX])

    async def reap_stale(self) -> int:
        now = time.time()
        return await self._reap(
            keys=[LEASES, PROCESSING, READY, DEAD],
            args=[
                now,
                self.max_attempts,
                JOB_PREFIX,
                now + self.visibility_timeout,
                self.dead_letter_ttl,
                DEAD_PRUNE_BATCH,
            ],
        )

    async def depths(self) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(READY)
            pipe.llen(PROCESSING)
            pipe.zcard(DELAYED)
            pipe.llen(DEAD)
            ready, processing, delayed, dead = await pipe.execute()
        return {"ready": ready, "processing": processing, "delayed": delayed, "dead": dead}

    async def counters(self) -> tuple[dict[str, int], dict[str, int]]:
        """(failed attempts by kind, finished attempts by kind), kept in Redis for all workers."""
        failures = await self.redis.hgetall(FAILURES)
        runs = await self.redis.hgetall(RUNS)

        def decode(raw):
            return {k.decode(): int(v) for k, v in raw.items()}

        return decode(failures), decode(runs)

"""Clients built from Settings, shared by the web app and the worker."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from ora.documents import DocumentStore, make_qdrant
from ora.embeddings import make_embedder
from ora.queue import JobQueue
from ora.settings import Settings


@dataclass
class Resources:
    redis: Redis
    store: DocumentStore
    queue: JobQueue

    async def aclose(self) -> None:
        await self.store.embedder.aclose()
        await self.store.client.close()
        await self.redis.aclose()


def make_redis(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=30,
    )


def make_resources(settings: Settings) -> Resources:
    redis = make_redis(settings)
    embedder = make_embedder(settings.openai_api_key, settings.openai_model)
    store = DocumentStore(make_qdrant(settings.qdrant_url, settings.qdrant_api_key), embedder)
    queue = JobQueue(
        redis,
        settings.job_visibility_timeout,
        settings.job_max_attempts,
        settings.job_backoff_base,
        dead_letter_ttl=settings.dead_letter_ttl_seconds,
    )
    return Resources(redis=redis, store=store, queue=queue)

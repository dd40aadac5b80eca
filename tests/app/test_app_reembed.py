"""reembed never loses a document: a new collection, an atomic alias switch, then the old
one is dropped; a failure leaves the old collection serving. Qdrant in local mode."""

import asyncio
import uuid

import pytest
from ora.documents import ALIAS, COLLECTION, VERSION_PREFIX, DocumentStore
from ora.embeddings import LocalEmbedder
from ora.jobs import REEMBED_LOCK, JobContext, ReembedRunning, reembed
from ora.queue import JobQueue
from ora.resources import make_redis
from ora.settings import load_settings
from qdrant_client import AsyncQdrantClient, models


class Embedder(LocalEmbedder):
    """The offline embedder, with a hook run before each embed call (to fail or to write)."""

    def __init__(self, dim=LocalEmbedder.dim, hook=None):
        self.dim = dim
        self.hook = hook
        self.calls = 0

    def vector(self, text):
        return super().vector(text)[: self.dim] if self.dim <= 256 else [0.5] * self.dim

    async def embed(self, texts):
        self.calls += 1
        if self.hook is not None:
            await self.hook(self.calls)
        return [self.vector(text) for text in texts]


async def collections(client):
    names = sorted(c.name for c in (await client.get_collections()).collections)
    aliases = {a.alias_name: a.collection_name for a in (await client.get_aliases()).aliases}
    return names, aliases


async def texts(store):
    points, _ = await store.client.scroll(ALIAS, limit=1000, with_payload=True)
    return sorted(p.payload["text"] for p in points)


def run(scenario):
    async def main():
        client = AsyncQdrantClient(location=":memory:")
        try:
            return await scenario(client)
        finally:
            await client.close()

    return asyncio.run(main())


def test_a_pre_alias_collection_is_adopted_then_replaced(tmp_path):
    async def scenario(client):
        await client.create_collection(
            COLLECTION, vectors_config=models.VectorParams(size=256, distance="Cosine")
        )
        legacy = LocalEmbedder()
        await client.upsert(
            COLLECTION,
            points=[
                models.PointStruct(
                    id=str(uuid.uuid4()), vector=legacy.vector(t), payload={"text": t}
                )
                for t in ("alpha", "beta")
            ],
        )
        store = DocumentStore(client, Embedder())
        before = [r["text"] for r in await store.search("alpha", 5)]
        adopted = await collections(client)
        count = await store.reembed()
        return before, adopted, count, await collections(client), await texts(store)

    before, adopted, count, after, stored = run(scenario)
    assert "alpha" in before
    assert adopted == ([COLLECTION], {ALIAS: COLLECTION})
    assert count == 2
    [new] = after[0]
    assert new.startswith(VERSION_PREFIX)
    assert after[1] == {ALIAS: new}
    assert stored == ["alpha", "beta"]


def test_a_failed_reembed_to_a_new_size_leaves_the_old_collection_serving():
    async def fail_on_second_batch(call):
        if call == 3:  # 1: the add, 2: first batch of the copy, 3: the second batch
            raise RuntimeError("embedding service down")

    async def scenario(client):
        store = DocumentStore(client, Embedder())
        for index in range(5):
            await store.add(f"doc {index}", {})
        before = await collections(client)
        failing = DocumentStore(client, Embedder(dim=512, hook=fail_on_second_batch))
        failing.embedder.calls = 1
        with pytest.raises(RuntimeError, match="embedding service down"):
            await failing.reembed(batch=2)
        return before, await collections(client), await texts(store)

    before, after, stored = run(scenario)
    assert after == before == ([COLLECTION], {ALIAS: COLLECTION})
    assert stored == [f"doc {i}" for i in range(5)]


def test_reembed_changes_the_vector_size_without_losing_documents():
    async def scenario(client):
        await DocumentStore(client, Embedder()).add("sized", {"k": 1})
        bigger = DocumentStore(client, Embedder(dim=512))
        await bigger.reembed()
        info = await client.get_collection(ALIAS)
        return info.config.params.vectors.size, await bigger.search("sized", 1)

    size, [hit] = run(scenario)
    assert size == 512
    assert (hit["text"], hit["metadata"]) == ("sized", {"k": 1})


def test_a_document_written_during_the_copy_survives_the_switch():
    async def scenario(client):
        store = DocumentStore(client, Embedder())
        await store.add("early", {})
        writer = DocumentStore(client, Embedder())

        async def write_during_copy(call):
            if call == 1:
                await writer.add("written during the copy", {})

        await DocumentStore(client, Embedder(hook=write_during_copy)).reembed()
        return await texts(store)

    assert run(scenario) == ["early", "written during the copy"]


def test_a_second_reembed_waits_for_the_first(env, redis_client):
    async def scenario():
        settings = load_settings(env)
        redis = make_redis(settings)
        client = AsyncQdrantClient(location=":memory:")
        store = DocumentStore(client, Embedder())
        ctx = JobContext(settings, redis, JobQueue(redis, 10, 3, 0.1), store)
        try:
            await redis.set(REEMBED_LOCK, "another worker", ex=30)
            with pytest.raises(ReembedRunning):
                await reembed({}, ctx)
            assert await redis.get(REEMBED_LOCK) == b"another worker"  # not released by us
            await redis.delete(REEMBED_LOCK)
            return await reembed({}, ctx), await redis.exists(REEMBED_LOCK)
        finally:
            await client.close()
            await redis.aclose()

    result, lock_left = asyncio.run(scenario())
    assert result["reembedded"] == 0
    assert lock_left == 0


def test_leftovers_of_crashed_runs_are_merged_then_dropped():
    async def scenario(client):
        store = DocumentStore(client, Embedder())
        await store.add("serving", {})
        stray = f"{VERSION_PREFIX}deadbeef0000"
        await client.create_collection(
            stray, vectors_config=models.VectorParams(size=256, distance="Cosine")
        )
        point = models.PointStruct(
            id=str(uuid.uuid4()), vector=LocalEmbedder().vector("x"), payload={"text": "stray"}
        )
        await client.upsert(stray, points=[point])
        await store.reembed()
        return await collections(client), await texts(store)

    (names, aliases), stored = run(scenario)
    assert names == [aliases[ALIAS]]
    assert stored == ["serving", "stray"]

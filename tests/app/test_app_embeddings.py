"""Embedders: the offline one is deterministic; the OpenAI one retries and times out."""

import asyncio
import math

import httpx
import pytest
from ora.embeddings import LOCAL_DIM, LocalEmbedder, OpenAIEmbedder, make_embedder


def test_local_embedder_is_deterministic_normalized_and_fixed_size():
    embedder = LocalEmbedder()
    first = embedder.vector("The job queue lives in Redis")
    assert first == LocalEmbedder().vector("the JOB queue lives in redis!")
    assert len(first) == LOCAL_DIM
    assert math.isclose(sum(v * v for v in first), 1.0)


def test_local_embedder_ranks_overlapping_text_closer():
    embedder = LocalEmbedder()
    query = embedder.vector("redis job queue")

    def cosine(text):
        return sum(a * b for a, b in zip(query, embedder.vector(text), strict=True))

    assert cosine("the job queue in redis") > cosine("nginx terminates tls")


@pytest.mark.parametrize(("key", "kind"), [(None, LocalEmbedder), ("sk-test", OpenAIEmbedder)])
def test_make_embedder_uses_openai_only_with_a_key(key, kind):
    embedder = make_embedder(key, "text-embedding-3-small")
    assert isinstance(embedder, kind)
    asyncio.run(embedder.aclose())


def test_openai_embedder_retries_server_errors_and_sends_the_key():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["authorization"])
        if len(calls) == 1:
            return httpx.Response(503)
        data = [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}]
        return httpx.Response(200, json={"data": data})

    async def scenario():
        embedder = OpenAIEmbedder(
            "sk-test", "text-embedding-3-small", transport=httpx.MockTransport(handler)
        )
        try:
            return await embedder.embed(["a", "b"])
        finally:
            await embedder.aclose()

    assert asyncio.run(scenario()) == [[1.0, 0.0], [0.0, 1.0]]
    assert calls == ["Bearer sk-test", "Bearer sk-test"]


def test_openai_embedder_does_not_retry_client_errors():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401)

    async def scenario():
        embedder = OpenAIEmbedder(
            "sk-bad", "text-embedding-3-small", transport=httpx.MockTransport(handler)
        )
        try:
            await embedder.embed(["a"])
        finally:
            await embedder.aclose()

    with pytest.raises(RuntimeError, match="HTTP 401"):
        asyncio.run(scenario())
    assert calls == [1]

"""Embedders: OpenAI when a key is set, otherwise a deterministic offline one."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import re
from typing import ClassVar, Protocol

import httpx

LOCAL_DIM = 256
_TOKEN = re.compile(r"[a-z0-9]+")


class Embedder(Protocol):
    name: str
    dim: int

    async def embed(self, texts: list[str]) -> list[list[float]]: ...

    async def aclose(self) -> None: ...


class LocalEmbedder:
    """Hashed unigram + bigram features, L2-normalized: same text, same vector, no network."""

    name = "local-hash-256"
    dim = LOCAL_DIM

    def vector(self, text: str) -> list[float]:
        tokens = _TOKEN.findall(text.lower())
        features = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
        vec = [0.0] * self.dim
        for feature in features:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self.dim
            vec[index] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0.0:
            vec[0], norm = 1.0, 1.0
        return [v / norm for v in vec]

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.vector(text) for text in texts]

    async def aclose(self) -> None:
        return None


class OpenAIEmbedder:
    """OpenAI embeddings over httpx with timeouts and retries on 429/5xx/transport errors."""

    url = "https://api.openai.com/v1/embeddings"
    dims: ClassVar[dict[str, int]] = {
        "text-embedding-3-small": 1536,
        "text-embedding-3-large": 3072,
        "text-embedding-ada-002": 1536,
    }

    def __init__(self, api_key: str, model: str, retries: int = 3, transport=None) -> None:
        self.name = f"openai-{model}"
        self.model = model
        self.dim = self.dims.get(model, 1536)
        self.retries = retries
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(30.0, connect=5.0),
            transport=transport,
        )

    async def embed(self, texts: list[str]) -> list[list[float]]:
        body = {"model": self.model, "input": texts}
        for attempt in range(self.retries + 1):
            try:
                response = await self._client.post(self.url, json=body)
            except httpx.TransportError:
                if attempt == self.retries:
                    raise
            else:
                if response.status_code == 200:
                    data = sorted(response.json()["data"], key=lambda item: item["index"])
                    return [item["embedding"] for item in data]
                if response.status_code != 429 and response.status_code < 500:
                    raise RuntimeError(f"OpenAI embeddings failed with HTTP {response.status_code}")
                if attempt == self.retries:
                    raise RuntimeError(f"OpenAI embeddings failed with HTTP {response.status_code}")
            await asyncio.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._client.aclose()


def make_embedder(openai_api_key: str | None, model: str) -> Embedder:
    if openai_api_key:
        return OpenAIEmbedder(openai_api_key, model)
    return LocalEmbedder()

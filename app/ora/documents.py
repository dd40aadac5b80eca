"""Documents in Qdrant: the collection is created on first use with the embedder's size."""

from __future__ import annotations

import asyncio
import uuid

from qdrant_client import AsyncQdrantClient, models

from ora.embeddings import Embedder

COLLECTION = "ora_documents"


def make_qdrant(url: str, api_key: str | None) -> AsyncQdrantClient:
    """':memory:' or a path uses qdrant-client's in-process local mode; a URL uses the server."""
    if url == ":memory:":
        return AsyncQdrantClient(location=":memory:")
    if not url.startswith(("http://", "https://")):
        return AsyncQdrantClient(path=url)
    return AsyncQdrantClient(url=url, api_key=api_key, timeout=10)


class DocumentStore:
    def __init__(self, client: AsyncQdrantClient, embedder: Embedder) -> None:
        self.client = client
        self.embedder = embedder
        self._ready = False
        self._lock = asyncio.Lock()

    async def ping(self) -> None:
        await self.client.get_collections()

    async def _ensure_collection(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            if not await self.client.collection_exists(COLLECTION):
                try:
                    await self.client.create_collection(
                        COLLECTION,
                        vectors_config=models.VectorParams(
                            size=self.embedder.dim, distance=models.Distance.COSINE
                        ),
                    )
                except Exception:
                    # Another worker may have created it in between; re-check, else re-raise.
                    if not await self.client.collection_exists(COLLECTION):
                        raise
            info = await self.client.get_collection(COLLECTION)
            size = info.config.params.vectors.size
            if size != self.embedder.dim:
                raise RuntimeError(
                    f"collection {COLLECTION} has vectors of size {size}, the embedder "
                    f"{self.embedder.name} makes {self.embedder.dim}: enqueue a 'reembed' job"
                )
            self._ready = True

    async def add(self, text: str, metadata: dict) -> str:
        await self._ensure_collection()
        doc_id = str(uuid.uuid4())
        [vector] = await self.embedder.embed([text])
        payload = {"text": text, "metadata": metadata, "embedder": self.embedder.name}
        await self.client.upsert(
            COLLECTION, points=[models.PointStruct(id=doc_id, vector=vector, payload=payload)]
        )
        return doc_id

    async def search(self, query: str, limit: int) -> list[dict]:
        await self._ensure_collection()
        [vector] = await self.embedder.embed([query])
        result = await self.client.query_points(COLLECTION, query=vector, limit=limit)
        return [
            {
                "id": str(point.id),
                "score": round(point.score, 6),
                "text": point.payload.get("text", ""),
                "metadata": point.payload.get("metadata", {}),
            }
            for point in result.points
        ]

    async def reembed(self, batch: int = 64) -> int:
        """Re-embed every document with the current embedder (recreating on a size change)."""
        points = []
        if await self.client.collection_exists(COLLECTION):
            offset = None
            while True:
                page, offset = await self.client.scroll(
                    COLLECTION, limit=batch, offset=offset, with_payload=True
                )
                points.extend(page)
                if offset is None:
                    break
            info = await self.client.get_collection(COLLECTION)
            if info.config.params.vectors.size != self.embedder.dim:
                await self.client.delete_collection(COLLECTION)
        self._ready = False
        await self._ensure_collection()
        for start in range(0, len(points), batch):
            chunk = points[start : start + batch]
            vectors = await self.embedder.embed([p.payload.get("text", "") for p in chunk])
            await self.client.upsert(
                COLLECTION,
                points=[
                    models.PointStruct(
                        id=p.id, vector=v, payload={**p.payload, "embedder": self.embedder.name}
                    )
                    for p, v in zip(chunk, vectors, strict=True)
                ],
            )
        return len(points)

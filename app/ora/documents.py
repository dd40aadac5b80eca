"""Documents in Qdrant, read and written through a collection alias.

The alias ALIAS names the collection that serves. `reembed` fills a new collection, then
switches the alias to it in one atomic operation, and only then drops the old one: a
failure at any step leaves the old collection serving. A collection made before aliases
existed (COLLECTION, the first name) is adopted in place by pointing the alias at it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from qdrant_client import AsyncQdrantClient, models

from ora.embeddings import Embedder
from ora.logs import log

logger = logging.getLogger("ora.documents")
COLLECTION = "ora_documents"  # the first collection; later ones are VERSION_PREFIX + hex
ALIAS = "ora_documents_live"
VERSION_PREFIX = "ora_documents_v"


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

    async def serving(self) -> str | None:
        """The collection the alias points at, or None before the first use."""
        for alias in (await self.client.get_aliases()).aliases:
            if alias.alias_name == ALIAS:
                return alias.collection_name
        return None

    async def _create(self, name: str) -> None:
        vectors = models.VectorParams(size=self.embedder.dim, distance=models.Distance.COSINE)
        try:
            await self.client.create_collection(name, vectors_config=vectors)
        except Exception:
            # Another worker may have created it in between; re-check, else re-raise.
            if not await self.client.collection_exists(name):
                raise

    async def _ensure_alias(self) -> str:
        """The collection the alias serves, pointing it at COLLECTION first if it is new."""
        serving = await self.serving()
        if serving is not None:
            return serving
        if not await self.client.collection_exists(COLLECTION):
            await self._create(COLLECTION)
        try:  # adopts a pre-alias collection, or the one just made
            await self.client.update_collection_aliases(
                [models.CreateAliasOperation(create_alias=_alias_to(COLLECTION))]
            )
        except Exception:
            serving = await self.serving()
            if serving is None:
                raise
            return serving
        return COLLECTION

    async def _ensure_collection(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            await self._ensure_alias()
            info = await self.client.get_collection(ALIAS)
            size = info.config.params.vectors.size
            if size != self.embedder.dim:
                raise RuntimeError(
                    f"collection {ALIAS} has vectors of size {size}, the embedder "
                    f"{self.embedder.name} makes {self.embedder.dim}: enqueue a 'reembed' job"
                )
            self._ready = True

    async def count(self) -> int:
        await self._ensure_collection()
        return (await self.client.count(ALIAS, exact=False)).count

    async def add(self, text: str, metadata: dict) -> str:
        await self._ensure_collection()
        doc_id = str(uuid.uuid4())
        [vector] = await self.embedder.embed([text])
        payload = {"text": text, "metadata": metadata, "embedder": self.embedder.name}
        await self.client.upsert(
            ALIAS, points=[models.PointStruct(id=doc_id, vector=vector, payload=payload)]
        )
        return doc_id

    async def search(self, query: str, limit: int) -> list[dict]:
        await self._ensure_collection()
        [vector] = await self.embedder.embed([query])
        result = await self.client.query_points(ALIAS, query=vector, limit=limit)
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
        """Re-embed every document into a new collection, switch the alias, drop the old one.

        Callers serialize it (one reembed at a time, see ora.jobs)."""
        old = await self._ensure_alias()
        new = f"{VERSION_PREFIX}{uuid.uuid4().hex[:12]}"
        await self._create(new)
        try:
            count = await self._copy(old, new, batch)
            await self.client.update_collection_aliases(
                [
                    models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=ALIAS)),
                    models.CreateAliasOperation(create_alias=_alias_to(new)),
                ]
            )
        except BaseException:
            await self.client.delete_collection(new)  # the old one still serves
            raise
        # Writes that resolved the alias just before the switch landed in the old collection;
        # a run that died after its switch may have left such writes in another one.
        for stale in [old, *await self._leftovers(keep={old, new})]:
            count += await self._copy(stale, new, batch, only_missing=True)
            await self.client.delete_collection(stale)
        self._ready = False
        log(logger, logging.INFO, "reembedded", collection=new, previous=old, documents=count)
        return count

    async def _copy(self, source: str, target: str, batch: int, only_missing=False) -> int:
        copied, offset = 0, None
        while True:
            page, offset = await self.client.scroll(
                source, limit=batch, offset=offset, with_payload=True
            )
            if only_missing and page:
                present = await self.client.retrieve(target, [p.id for p in page])
                have = {p.id for p in present}
                page = [p for p in page if p.id not in have]
            if page:
                vectors = await self.embedder.embed([p.payload.get("text", "") for p in page])
                points = [
                    models.PointStruct(
                        id=p.id, vector=v, payload={**p.payload, "embedder": self.embedder.name}
                    )
                    for p, v in zip(page, vectors, strict=True)
                ]
                await self.client.upsert(target, points=points)
                copied += len(page)
            if offset is None:
                return copied

    async def _leftovers(self, keep: set[str]) -> list[str]:
        """Collections of earlier reembeds that died before or after their switch."""
        names = [c.name for c in (await self.client.get_collections()).collections]
        return [
            name
            for name in names
            if (name == COLLECTION or name.startswith(VERSION_PREFIX)) and name not in keep
        ]


def _alias_to(collection: str) -> models.CreateAlias:
    return models.CreateAlias(collection_name=collection, alias_name=ALIAS)

"""The /api/v1 routes: documents, semantic search (cached), jobs."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from ora.logs import log
from ora.metrics import CACHE_HITS, CACHE_MISSES

logger = logging.getLogger("ora.api")
router = APIRouter(prefix="/api/v1")


class DocumentIn(BaseModel):
    text: str = Field(min_length=1, max_length=100_000)
    metadata: dict = Field(default_factory=dict)


class JobIn(BaseModel):
    kind: Literal["reembed", "loop_health", "fail", "sleep"]
    payload: dict = Field(default_factory=dict)


@router.post("/documents", status_code=201)
async def add_document(document: DocumentIn, request: Request) -> dict:
    state = request.app.state
    doc_id = await state.resources.store.add(document.text, document.metadata)
    try:
        await state.cache.invalidate()
    except RedisError as error:
        # The write succeeded; stale results would outlive it by at most the cache TTL.
        log(logger, logging.ERROR, "cache invalidation failed", error=str(error))
    return {"id": doc_id, "embedder": state.resources.store.embedder.name}


@router.get("/search")
async def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Response:
    state = request.app.state
    generation, cached = None, None
    try:
        generation, cached = await state.cache.get(q, limit)
    except RedisError as error:
        log(logger, logging.ERROR, "cache unavailable, searching uncached", error=str(error))
    if cached is not None:
        CACHE_HITS.inc()
        return Response(cached, media_type="application/json", headers={"X-Cache": "hit"})
    CACHE_MISSES.inc()
    results = await state.resources.store.search(q, limit)
    body = json.dumps({"query": q, "limit": limit, "results": results}).encode()
    if generation is not None:
        try:
            await state.cache.put(generation, q, limit, body)
        except RedisError as error:
            log(logger, logging.ERROR, "cache write failed", error=str(error))
    return Response(body, media_type="application/json", headers={"X-Cache": "miss"})


@router.post("/jobs", status_code=202)
async def enqueue_job(job: JobIn, request: Request) -> dict:
    try:
        job_id = await request.app.state.resources.queue.enqueue(job.kind, job.payload)
    except RedisError as error:
        raise HTTPException(503, "job queue unavailable") from error
    return {"id": job_id, "kind": job.kind, "status": "queued"}


@router.get("/jobs/{job_id}")
async def job_status(job_id: str, request: Request) -> dict:
    if not job_id.isalnum() or len(job_id) > 64:
        raise HTTPException(404, "no such job")
    try:
        status = await request.app.state.resources.queue.status(job_id)
    except RedisError as error:
        raise HTTPException(503, "job queue unavailable") from error
    if status is None:
        raise HTTPException(404, "no such job")
    return status

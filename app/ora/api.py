"""The /api/v1 routes: documents, semantic search (cached), jobs.

Every route needs an API key (see ora.auth) with the scope it names; writes are rate
limited per key and bounded in size (see ora.limits).
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from ora.apikeys import ApiKey
from ora.auth import check_scope, require
from ora.limits import check_size, json_bytes
from ora.logs import log
from ora.metrics import CACHE_HITS, CACHE_MISSES
from ora.queue import QueueFull

logger = logging.getLogger("ora.api")
router = APIRouter(prefix="/api/v1")


ADMIN_KINDS = frozenset({"reembed", "loop_health"})
DIAGNOSTIC_KINDS = frozenset({"fail", "sleep"})
QUEUE_RETRY_AFTER = "30"

Read = Annotated[ApiKey | None, Depends(require("read"))]
Write = Annotated[ApiKey | None, Depends(require("write"))]
AnyKey = Annotated[ApiKey | None, Depends(require(None))]


class DocumentIn(BaseModel):
    text: str = Field(min_length=1)
    metadata: dict = Field(default_factory=dict)


JobKind = Literal["reembed", "loop_health", "fail", "sleep"]
JOB_KINDS = get_args(JobKind)


class JobIn(BaseModel):
    kind: JobKind
    payload: dict = Field(default_factory=dict)


async def count_write(request: Request, key: ApiKey) -> None:
    await request.app.state.write_limiter.hit(key.name)


@router.post("/documents", status_code=201, description="Scope: write.")
async def add_document(document: DocumentIn, request: Request, key: Write) -> dict:
    state = request.app.state
    settings = state.settings
    await count_write(request, key)
    text_bytes = len(document.text.encode())
    check_size("the document text", text_bytes, "MAX_DOCUMENT_BYTES", settings.max_document_bytes)
    metadata_bytes = json_bytes(document.metadata)
    check_size("the metadata", metadata_bytes, "MAX_METADATA_BYTES", settings.max_metadata_bytes)
    if await state.resources.store.count() >= settings.max_documents:
        raise HTTPException(
            503, f"the document store is full: MAX_DOCUMENTS={settings.max_documents} reached"
        )
    await state.document_quota.take(key.name)
    try:
        doc_id = await state.resources.store.add(document.text, document.metadata)
    except BaseException:
        with contextlib.suppress(RedisError):
            await state.document_quota.give_back(key.name)
        raise
    try:
        await state.cache.invalidate()
    except RedisError as error:
        # The write succeeded; stale results would outlive it by at most the cache TTL.
        log(logger, logging.ERROR, "cache invalidation failed", error=str(error))
    return {"id": doc_id, "embedder": state.resources.store.embedder.name}


@router.get("/search", description="Scope: read (unless SEARCH_REQUIRES_KEY=false).")
async def search(
    request: Request,
    _key: Read,
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


@router.post(
    "/jobs",
    status_code=202,
    description="Scope: admin for reembed and loop_health; write for the diagnostic kinds "
    "fail and sleep, which answer 403 unless DIAGNOSTIC_JOBS=true.",
)
async def enqueue_job(job: JobIn, request: Request, key: AnyKey) -> dict:
    settings = request.app.state.settings
    check_scope(request, "admin" if job.kind in ADMIN_KINDS else "write")
    if job.kind in DIAGNOSTIC_KINDS and not settings.diagnostic_jobs:
        raise HTTPException(
            403, f"diagnostic jobs ({job.kind}) are disabled: DIAGNOSTIC_JOBS is not true"
        )
    await count_write(request, key)
    size = json_bytes(job.payload)
    check_size("the job payload", size, "MAX_JOB_PAYLOAD_BYTES", settings.max_job_payload_bytes)
    queue = request.app.state.resources.queue
    try:
        job_id = await queue.enqueue(job.kind, job.payload, max_depth=settings.max_queued_jobs)
    except QueueFull:
        raise HTTPException(
            503,
            f"the job queue is full: MAX_QUEUED_JOBS={settings.max_queued_jobs} jobs wait",
            headers={"Retry-After": QUEUE_RETRY_AFTER},
        ) from None
    except RedisError as error:
        raise HTTPException(503, "job queue unavailable") from error
    return {"id": job_id, "kind": job.kind, "status": "queued"}


@router.get("/jobs/{job_id}", description="Scope: read.")
async def job_status(job_id: str, request: Request, _key: Read) -> dict:
    if not job_id.isalnum() or len(job_id) > 64:
        raise HTTPException(404, "no such job")
    try:
        status = await request.app.state.resources.queue.status(job_id)
    except RedisError as error:
        raise HTTPException(503, "job queue unavailable") from error
    if status is None:
        raise HTTPException(404, "no such job")
    return status

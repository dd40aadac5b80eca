"""The FastAPI application factory; `ora.main:app` calls it with the process settings."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from ora import metrics
from ora.api import JOB_KINDS, router
from ora.auth import ApiKeyMiddleware
from ora.cache import SearchCache
from ora.fastpath import CachedSearchFastPath
from ora.limits import DocumentQuota, WriteRateLimiter
from ora.logs import log
from ora.middleware import HostGuardMiddleware, RequestContextMiddleware
from ora.resources import make_resources
from ora.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
PROBE_TIMEOUT = 2.0
# Under /api/, so ApiKeyMiddleware asks for a key (any scope) before it is served; no
# interactive docs (/docs, /redoc) at all.
OPENAPI_PATH = "/api/v1/openapi.json"
logger = logging.getLogger("ora.web")


async def _check(name: str, probe) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe(), timeout=PROBE_TIMEOUT)
    except Exception as error:
        return name, f"unavailable: {type(error).__name__}"
    return name, "ok"


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        resources = make_resources(settings)
        app.state.resources = resources
        app.state.cache = SearchCache(resources.redis, settings.search_cache_ttl)
        app.state.write_limiter = WriteRateLimiter(resources.redis, settings.write_rate_per_minute)
        app.state.document_quota = DocumentQuota(resources.redis, settings.max_documents_per_key)
        try:
            yield
        finally:
            await resources.aclose()

    app = FastAPI(
        title="Ora", lifespan=lifespan, openapi_url=OPENAPI_PATH, docs_url=None, redoc_url=None
    )
    app.state.settings = settings

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        resources = request.app.state.resources
        checks = dict(
            await asyncio.gather(
                _check("redis", resources.redis.ping), _check("qdrant", resources.store.ping)
            )
        )
        failing = sorted(name for name, state in checks.items() if state != "ok")
        if failing:
            # The detail is for operators, not for whoever can reach the probe.
            log(logger, logging.WARNING, "not ready", failing=failing, checks=checks)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def prometheus_metrics(request: Request) -> Response:
        stats = await metrics.job_stats(request.app.state.resources.queue, JOB_KINDS)
        return Response(metrics.render(stats), media_type=metrics.CONTENT_TYPE)

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(CachedSearchFastPath, state=app.state)
    app.add_middleware(
        ApiKeyMiddleware, keys=settings.api_keys, search_requires_key=settings.search_requires_key
    )
    app.add_middleware(HostGuardMiddleware, allowed_hosts=list(settings.allowed_hosts))
    app.add_middleware(RequestContextMiddleware)
    return app

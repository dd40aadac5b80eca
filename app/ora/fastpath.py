"""Cache hits for GET /api/v1/search, served before FastAPI's routing and validation.

Only a request that FastAPI validated ever stored a cache entry, so a hit needs no
validation of its own. Anything unusual (a miss, an odd parameter, Redis trouble) falls
through to the normal route, which answers exactly as it would have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from ora.metrics import CACHE_HITS

SEARCH_PATH = "/api/v1/search"
DEFAULT_LIMIT = 10
_LIMIT = re.compile(r"^[0-9]{1,2}$")


@dataclass(frozen=True)
class RouteLabel:
    path: str


SEARCH_ROUTE = RouteLabel(SEARCH_PATH)


def search_key(query_string: bytes) -> tuple[str, int] | None:
    """(q, limit) as FastAPI reads them (last value wins), or None to fall through."""
    params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    q = params.get("q")
    raw_limit = params.get("limit")
    if q is None or (raw_limit is not None and not _LIMIT.match(raw_limit)):
        return None
    return q, DEFAULT_LIMIT if raw_limit is None else int(raw_limit)


class CachedSearchFastPath:
    def __init__(self, app: ASGIApp, state) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == SEARCH_PATH and scope["method"] == "GET":
            key = search_key(scope["query_string"])
            if key is not None and await self._serve_hit(key, scope, send):
                return
        await self.app(scope, receive, send)

    async def _serve_hit(self, key: tuple[str, int], scope: Scope, send: Send) -> bool:
        try:
            _, body = await self.state.cache.get(*key)
        except RedisError:
            return False
        if body is None:
            return False
        CACHE_HITS.inc()
        scope["route"] = SEARCH_ROUTE  # the metrics label, as the router would have set it
        headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
            (b"x-cache", b"hit"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

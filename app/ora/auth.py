"""API-key authentication and scopes.

ApiKeyMiddleware authenticates every /api/ request before its body is read: no key or an
unknown one is a 401. The `require(scope)` dependency then authorizes per route (403) and
declares the bearer scheme in the OpenAPI schema. Both answers carry WWW-Authenticate
(RFC 6750); each refusal is logged at WARNING (never the key) and counted by reason.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ora.apikeys import MAX_KEY_LENGTH, ApiKey, KeyRing
from ora.logs import log
from ora.metrics import AUTH_FAILURES

logger = logging.getLogger("ora.auth")
REALM = 'Bearer realm="ora"'
PROTECTED_PREFIX = "/api/"
SEARCH_PATH = "/api/v1/search"

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An Ora API key: `Authorization: Bearer <key>`. Scopes: read (search, job "
    "status), write (documents), admin (reembed and loop_health jobs).",
)


def challenge(error: str | None = None, scope: str | None = None) -> str:
    parts = [REALM]
    if error:
        parts.append(f'error="{error}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return ", ".join(parts)


def refuse(reason: str, route: str, key_name: str | None = None) -> None:
    AUTH_FAILURES.labels(reason).inc()
    log(logger, logging.WARNING, "authentication refused", reason=reason, route=route, key=key_name)


def presented_key(scope: Scope) -> str | None:
    """The bearer token, '' for a malformed Authorization header, None for no header."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            if kind.lower() != "bearer" or not token or len(token) > MAX_KEY_LENGTH:
                return ""
            return token
    return None


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, keys: KeyRing, search_requires_key: bool) -> None:
        self.app = app
        self.keys = keys
        self.search_requires_key = search_requires_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        token = presented_key(scope)
        key = self.keys.lookup(token) if token else None
        if key is not None or (token is None and self._open(scope)):
            scope.setdefault("state", {})["api_key"] = key
            await self.app(scope, receive, send)
            return
        reason = "missing" if token is None else "invalid"
        refuse(reason, scope["path"])
        detail = "an API key is required" if token is None else "the API key is not valid"
        header = challenge() if token is None else challenge("invalid_token")
        response = JSONResponse({"detail": detail}, 401, headers={"WWW-Authenticate": header})
        await response(scope, receive, send)

    def _open(self, scope: Scope) -> bool:
        return not self.search_requires_key and scope["path"] == SEARCH_PATH


def check_scope(request: Request, scope: str | None) -> ApiKey | None:
    """The request's key if it holds `scope` (any key for None), else 403; None only for an
    open search without a key."""
    key: ApiKey | None = getattr(request.state, "api_key", None)
    if key is None:
        return None  # the middleware let it through: search without a key, when allowed
    if scope is not None and scope not in key.scopes:
        route = getattr(request.scope.get("route"), "path", request.url.path)
        refuse("insufficient_scope", route, key.name)
        raise HTTPException(
            403,
            f"the API key lacks the '{scope}' scope",
            headers={"WWW-Authenticate": challenge("insufficient_scope", scope)},
        )
    return key


def require(scope: str | None):
    """A dependency: the key holding `scope` (None: any valid key), declared in OpenAPI."""

    async def dependency(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> ApiKey | None:
        return check_scope(request, scope)

    return dependency

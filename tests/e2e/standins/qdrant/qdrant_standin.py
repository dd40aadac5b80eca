"""STAND-IN for the Qdrant server: the REST subset Ora uses, over qdrant-client local mode.

Reads QDRANT__SERVICE__API_KEY and QDRANT__STORAGE__STORAGE_PATH like Qdrant.
Every path except /healthz, /livez and /readyz needs the `api-key` header.
Collection aliases (list, change, resolve in every collection path), point count and
retrieve follow Qdrant's REST API. Not covered: gRPC (6334), snapshots, payload indexes,
clustering, filters
beyond what qdrant-client's local mode evaluates.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from qdrant_client import QdrantClient, models

VERSION = "1.19.1-standin"
API_KEY = os.environ.get("QDRANT__SERVICE__API_KEY", "")
STORAGE = os.environ.get("QDRANT__STORAGE__STORAGE_PATH", "/qdrant/storage")
OPEN_PATHS = {"/healthz", "/livez", "/readyz"}
LOCK = threading.Lock()
CLIENT = QdrantClient(path=STORAGE)


def _json(obj):
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", exclude_none=True)
    if isinstance(obj, list | tuple):
        return [_json(o) for o in obj]
    return obj


def list_collections(_m, _b):
    return {"collections": [{"name": c.name} for c in CLIENT.get_collections().collections]}


def exists(m, _b):
    return {"exists": CLIENT.collection_exists(m[1])}


def get_collection(m, _b):
    return _json(CLIENT.get_collection(m[1]))


def create_collection(m, body):
    spec = models.CreateCollection(**body)
    return CLIENT.create_collection(m[1], vectors_config=spec.vectors)


def delete_collection(m, _b):
    return CLIENT.delete_collection(m[1])


def upsert(m, body):
    points = models.PointsList(**body).points
    return _json(CLIENT.upsert(m[1], points=points))


def query(m, body):
    req = models.QueryRequest(**body)
    q = req.query.nearest if isinstance(req.query, models.NearestQuery) else req.query
    result = CLIENT.query_points(
        m[1],
        query=q,
        limit=req.limit or 10,
        offset=req.offset,
        query_filter=req.filter,
        with_payload=req.with_payload if req.with_payload is not None else True,
        with_vectors=req.with_vector or False,
    )
    return _json(result)


def scroll(m, body):
    req = models.ScrollRequest(**body)
    points, offset = CLIENT.scroll(
        m[1],
        limit=req.limit or 10,
        offset=req.offset,
        scroll_filter=req.filter,
        with_payload=req.with_payload if req.with_payload is not None else True,
        with_vectors=req.with_vector or False,
    )
    return {"points": _json(points), "next_page_offset": offset}


def count(m, body):
    req = models.CountRequest(**body)
    return _json(CLIENT.count(m[1], count_filter=req.filter, exact=bool(req.exact)))


def retrieve(m, body):
    req = models.PointRequest(**body)
    records = CLIENT.retrieve(
        m[1],
        ids=req.ids,
        with_payload=req.with_payload if req.with_payload is not None else True,
        with_vectors=req.with_vector or False,
    )
    return _json(records)


def list_aliases(_m, _b):
    return _json(CLIENT.get_aliases())


def collection_aliases(m, _b):
    return _json(CLIENT.get_collection_aliases(m[1]))


def change_aliases(_m, body):
    """POST /collections/aliases: the actions apply together, as in Qdrant."""
    actions = models.ChangeAliasesOperation(**body).actions
    return CLIENT.update_collection_aliases(change_aliases_operations=actions)


NAME = r"([A-Za-z0-9_.-]+)"
ROUTES = [
    ("GET", re.compile(r"/aliases"), list_aliases),
    ("POST", re.compile(r"/collections/aliases"), change_aliases),
    ("GET", re.compile(rf"/collections/{NAME}/aliases"), collection_aliases),
    ("POST", re.compile(rf"/collections/{NAME}/points/count"), count),
    ("POST", re.compile(rf"/collections/{NAME}/points"), retrieve),
    ("GET", re.compile(r"/collections"), list_collections),
    ("GET", re.compile(rf"/collections/{NAME}/exists"), exists),
    ("GET", re.compile(rf"/collections/{NAME}"), get_collection),
    ("PUT", re.compile(rf"/collections/{NAME}"), create_collection),
    ("DELETE", re.compile(rf"/collections/{NAME}"), delete_collection),
    ("PUT", re.compile(rf"/collections/{NAME}/points"), upsert),
    ("POST", re.compile(rf"/collections/{NAME}/points/query"), query),
    ("POST", re.compile(rf"/collections/{NAME}/points/scroll"), scroll),
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qdrant-standin"

    def log_message(self, *_args):  # quiet, like Qdrant at WARN
        pass

    def _send(self, status: int, payload, text: bool = False) -> None:
        body = payload.encode() if text else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if text else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        started = time.monotonic()
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path in OPEN_PATHS:
            return self._send(200, f"{path[1:]} check passed", text=True)
        key = self.headers.get("api-key") or ""
        if API_KEY and not hmac.compare_digest(key, API_KEY):
            return self._send(
                401, "Must provide an API key or an Authorization bearer token", text=True
            )
        if path == "/":
            return self._send(200, {"title": "qdrant - vector search engine", "version": VERSION})
        for verb, pattern, handler in ROUTES:
            match = pattern.fullmatch(path)
            if verb == method and match:
                try:
                    with LOCK:
                        result = handler(match, json.loads(raw or b"{}"))
                except Exception as error:  # reported to the client like Qdrant's 4xx
                    status = 404 if "not found" in str(error).lower() else 400
                    return self._send(status, {"status": {"error": str(error)}})
                took = time.monotonic() - started
                return self._send(200, {"result": result, "status": "ok", "time": took})
        return self._send(404, {"status": {"error": f"stand-in has no {method} {path}"}})

    def do_GET(self):
        self._handle("GET")

    def do_PUT(self):
        self._handle("PUT")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")


if __name__ == "__main__":
    # As PID 1 Python ignores SIGTERM by default; Qdrant stops on it, so must this.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("0.0.0.0", 6333), Handler).serve_forever()  # noqa: S104

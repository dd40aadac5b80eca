"""STAND-IN for the Qdrant server: the REST subset Ora uses, over qdrant-client local mode.

Reads QDRANT__SERVICE__API_KEY (or the file /run/secrets/qdrant-api-key),
QDRANT__STORAGE__STORAGE_PATH and QDRANT__STORAGE__SNAPSHOTS_PATH like Qdrant.
Every path except /healthz, /livez and /readyz needs the `api-key` header.
Collection snapshots follow Qdrant's API (create, list, download, delete, recover from
a file:// location or an upload with `priority`); the archive inside is the stand-in's
own (a tar of the collection's config and points), not Qdrant's segment format.
Collection aliases (list, change, resolve in every collection path), point count and
retrieve follow Qdrant's REST API too.
Not covered: gRPC (6334), full-storage snapshots, payload indexes, clustering, filters
beyond what qdrant-client's local mode evaluates.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import json
import os
import re
import signal
import sys
import tarfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy
from qdrant_client import QdrantClient, models

VERSION = "1.19.1-standin"
SECRET_FILE = "/run/secrets/qdrant-api-key"
API_KEY = (
    Path(SECRET_FILE).read_text().strip()
    if os.path.exists(SECRET_FILE)
    else os.environ.get("QDRANT__SERVICE__API_KEY", "")
)
STORAGE = os.environ.get("QDRANT__STORAGE__STORAGE_PATH", "/qdrant/storage")
SNAPSHOTS = os.environ.get("QDRANT__STORAGE__SNAPSHOTS_PATH", "/qdrant/snapshots")
OPEN_PATHS = {"/healthz", "/livez", "/readyz"}
LOCK = threading.Lock()
CLIENT = QdrantClient(path=STORAGE)


def _json(obj):
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", exclude_none=True)
    if isinstance(obj, list | tuple):
        return [_json(o) for o in obj]
    return obj


def metrics_text() -> str:
    with LOCK:
        collections = len(CLIENT.get_collections().collections)
    return (
        "# HELP app_info information about qdrant server\n# TYPE app_info gauge\n"
        f'app_info{{name="qdrant",version="{VERSION}"}} 1\n'
        "# HELP collections_total number of collections\n# TYPE collections_total gauge\n"
        f"collections_total {collections}\n"
    )


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


def delete_points(m, body):
    selector = models.PointIdsList(**body)
    return _json(CLIENT.delete(m[1], points_selector=selector))


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


def _snapshot_dir(collection: str) -> str:
    return os.path.join(SNAPSHOTS, collection)


def _describe(path: str) -> dict:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    created = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.UTC)
    return {
        "name": os.path.basename(path),
        "creation_time": created.strftime("%Y-%m-%dT%H:%M:%S"),
        "size": os.path.getsize(path),
        "checksum": digest,
    }


def _tar_add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def create_snapshot(m, _b):
    """POST /collections/{name}/snapshots: the config, the ids and payloads, the vectors."""
    name = m[1]
    params = CLIENT.get_collection(name).config.params.vectors
    records, vectors, offset = [], [], None
    while True:
        page, offset = CLIENT.scroll(
            name, limit=1000, offset=offset, with_payload=True, with_vectors=True
        )
        records += [{"id": p.id, "payload": p.payload} for p in page]
        if page:  # a float32 block per page: 100k points stay ~100 MB, not Python floats
            vectors.append(numpy.asarray([p.vector for p in page], dtype=numpy.float32))
        if offset is None:
            break
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d-%H-%M-%S")
    os.makedirs(_snapshot_dir(name), exist_ok=True)
    path = os.path.join(_snapshot_dir(name), f"{name}-{os.getpid()}-{stamp}.snapshot")
    matrix = io.BytesIO()
    empty = numpy.zeros((0, params.size), numpy.float32)
    numpy.save(matrix, numpy.concatenate(vectors) if vectors else empty)
    with tarfile.open(path + ".tmp", "w") as archive:
        _tar_add(archive, "config.json", json.dumps({"vectors": _json(params)}).encode())
        _tar_add(archive, "points.json", json.dumps(records).encode())
        _tar_add(archive, "vectors.npy", matrix.getvalue())
    os.replace(path + ".tmp", path)
    return _describe(path)


def list_snapshots(m, _b):
    directory = _snapshot_dir(m[1])
    names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    return [_describe(os.path.join(directory, n)) for n in names if n.endswith(".snapshot")]


def _snapshot_path(m) -> str:
    path = os.path.join(_snapshot_dir(m[1]), m[2])
    if not os.path.isfile(path):
        raise KeyError(f"Snapshot {m[2]} not found")
    return path


def delete_snapshot(m, _b):
    os.remove(_snapshot_path(m))
    return True


def _recover(name: str, data: bytes, checksum: str | None) -> bool:
    if checksum and hashlib.sha256(data).hexdigest() != checksum:
        raise ValueError("Bad request: Snapshot checksum mismatch")
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        config = json.load(archive.extractfile("config.json"))
        records = json.load(archive.extractfile("points.json"))
        vectors = numpy.load(io.BytesIO(archive.extractfile("vectors.npy").read()))
    if CLIENT.collection_exists(name):
        CLIENT.delete_collection(name)
    CLIENT.create_collection(name, vectors_config=models.VectorParams(**config["vectors"]))
    for start in range(0, len(records), 1000):
        batch = [
            models.PointStruct(id=r["id"], payload=r["payload"], vector=v.tolist())
            for r, v in zip(
                records[start : start + 1000], vectors[start : start + 1000], strict=True
            )
        ]
        CLIENT.upsert(name, points=batch)
    return True


def recover_snapshot(m, body):
    """PUT /collections/{name}/snapshots/recover with a file:// location."""
    request = models.SnapshotRecover(**body)
    location = urllib.parse.urlparse(request.location)
    if location.scheme != "file":
        raise ValueError(
            f"Bad request: the stand-in recovers file:// locations only, not {location.scheme}"
        )
    return _recover(m[1], Path(location.path).read_bytes(), request.checksum)


def _form_file(raw: bytes, content_type: str, field: str) -> bytes:
    """The content of one file field of a multipart/form-data body."""
    boundary = re.search(r"boundary=\"?([^\";]+)", content_type)
    if not boundary:
        raise ValueError("Bad request: expected multipart/form-data with a boundary")
    delimiter = b"--" + boundary[1].encode()
    for part in raw.split(delimiter)[1:-1]:
        head, _, body = part.partition(b"\r\n\r\n")
        if f'name="{field}"'.encode() in head:
            return body[:-2] if body.endswith(b"\r\n") else body
    raise ValueError(f"Bad request: no `{field}` file in the form")


def upload_snapshot(m, raw, query, content_type):
    """POST /collections/{name}/snapshots/upload: multipart form with the file in `snapshot`."""
    priority = query.get("priority", ["no_sync"])[0]
    if priority not in ("no_sync", "snapshot", "replica"):
        raise ValueError(f"Bad request: unknown priority {priority}")
    data = _form_file(raw, content_type, "snapshot")
    return _recover(m[1], data, query.get("checksum", [None])[0])


NAME = r"([A-Za-z0-9_.-]+)"
SNAPSHOT = r"([A-Za-z0-9_.:-]+\.snapshot)"
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
    ("POST", re.compile(rf"/collections/{NAME}/points/delete"), delete_points),
    ("POST", re.compile(rf"/collections/{NAME}/snapshots"), create_snapshot),
    ("GET", re.compile(rf"/collections/{NAME}/snapshots"), list_snapshots),
    ("DELETE", re.compile(rf"/collections/{NAME}/snapshots/{SNAPSHOT}"), delete_snapshot),
    ("PUT", re.compile(rf"/collections/{NAME}/snapshots/recover"), recover_snapshot),
]
DOWNLOAD = re.compile(rf"/collections/{NAME}/snapshots/{SNAPSHOT}")
UPLOAD = re.compile(rf"/collections/{NAME}/snapshots/upload")


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
        path, _, query_string = self.path.partition("?")
        path = path.rstrip("/") or "/"
        query = urllib.parse.parse_qs(query_string)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path in OPEN_PATHS:
            return self._send(200, f"{path[1:]} check passed", text=True)
        key = self.headers.get("api-key") or ""
        bearer = self.headers.get("Authorization") or ""
        if bearer.startswith("Bearer "):  # how Qdrant also takes the key (Prometheus sends it)
            key = key or bearer[len("Bearer ") :]
        if API_KEY and not hmac.compare_digest(key, API_KEY):
            return self._send(
                401, "Must provide an API key or an Authorization bearer token", text=True
            )
        if path == "/":
            return self._send(200, {"title": "qdrant - vector search engine", "version": VERSION})
        if path == "/metrics":  # a few of Qdrant's own metric names, in its text format
            return self._send(200, metrics_text(), text=True)
        if method == "GET" and (match := DOWNLOAD.fullmatch(path)):
            return self._download(match)
        if method == "POST" and (match := UPLOAD.fullmatch(path)):
            content_type = self.headers.get("Content-Type", "")
            return self._run(started, upload_snapshot, match, raw, query, content_type)
        for verb, pattern, handler in ROUTES:
            match = pattern.fullmatch(path)
            if verb == method and match:
                return self._run(started, handler, match, json.loads(raw or b"{}"))
        return self._send(404, {"status": {"error": f"stand-in has no {method} {path}"}})

    def _run(self, started: float, handler, *args) -> None:
        try:
            with LOCK:
                result = handler(*args)
        except Exception as error:  # reported to the client like Qdrant's 4xx
            status = 404 if "not found" in str(error).lower() else 400
            return self._send(status, {"status": {"error": str(error)}})
        took = time.monotonic() - started
        return self._send(200, {"result": result, "status": "ok", "time": took})

    def _download(self, match) -> None:
        try:
            path = _snapshot_path(match)
        except KeyError as error:
            return self._send(404, {"status": {"error": str(error)}})
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(os.path.getsize(path)))
        self.end_headers()
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                self.wfile.write(chunk)

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

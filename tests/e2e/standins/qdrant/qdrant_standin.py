"""STAND-IN for the Qdrant server: the REST subset Ora uses, over qdrant-client in memory.

Reads QDRANT__SERVICE__API_KEY (or the file /run/secrets/qdrant-api-key),
QDRANT__STORAGE__STORAGE_PATH, QDRANT__STORAGE__SNAPSHOTS_PATH and
QDRANT__SERVICE__HTTP_PORT (6333) like Qdrant.
Every path except /healthz, /livez and /readyz needs the `api-key` header.

Storage, like Qdrant's: each collection is a segment store (segments.py) under
<storage>/collections/<name>/ (sealed segments with deletion bitmaps, plus an append-only
appendable segment); the aliases are <storage>/aliases.json. At start every store is loaded
into a qdrant-client `:memory:` instance, which answers the queries, as Qdrant loads its
segments before it serves; every write goes to the store first (fsynced), then to memory.
The storage volume holds the segment stores only.

Collection snapshots follow Qdrant's API (create, list, download, delete, recover from a
file:// location or an upload with `priority`, both with `checksum`). The archive is an
uncompressed tar of the collection's segment files as they are (stable member order,
zeroed times and owners), so an unchanged sealed segment is the same bytes in every
snapshot. It is the stand-in's segment format, not Qdrant's; recovering one replaces the
collection's files and reloads them (its aliases stay). Snapshots of the stand-in before
the segment store (a tar of config.json, points.json and vectors.npy) cannot be recovered,
and a storage directory of that time (qdrant-client's sqlite files) is not read.
Collection aliases (list, change, resolve in every collection path), point count and
retrieve follow Qdrant's REST API too.
Not covered: gRPC (6334), full-storage snapshots, named or sparse vectors (one unnamed dense
vector per point), payload indexes, clustering, filters beyond what qdrant-client's local
mode evaluates, deletes by filter.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
import urllib.parse
import uuid
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy
import segments
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
COLLECTIONS = Path(STORAGE) / "collections"
ALIASES = Path(STORAGE) / "aliases.json"
OPEN_PATHS = {"/healthz", "/livez", "/readyz"}
LOCK = threading.Lock()
CLIENT = QdrantClient(":memory:")
STORE: dict[str, segments.Collection] = {}
# qdrant-client warns on every large local collection; the stand-in knows.
warnings.filterwarnings("ignore", message="Local mode is not recommended", category=UserWarning)


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


def _resolve(name: str) -> str:
    """The collection a path names: itself or, as in Qdrant, through an alias."""
    if name in STORE:
        return name
    aliases = {a.alias_name: a.collection_name for a in CLIENT.get_aliases().aliases}
    if aliases.get(name) in STORE:
        return aliases[name]
    raise KeyError(f"Not found: Collection `{name}` doesn't exist!")


def _save_aliases() -> None:
    aliases = {a.alias_name: a.collection_name for a in CLIENT.get_aliases().aliases}
    segments.write_atomic(ALIASES, json.dumps(aliases, sort_keys=True).encode())


def _point_id(point):
    """Qdrant's ids: unsigned integers, or UUIDs in their canonical form."""
    return point if isinstance(point, int) else str(uuid.UUID(str(point)))


def _load(name: str, store: segments.Collection) -> None:
    """A segment store into memory, as Qdrant loads a collection's segments."""
    vectors = models.VectorParams(**store.config["vectors"])
    CLIENT.create_collection(name, vectors_config=vectors)
    batch = []
    for point, payload, vector in store.points():
        batch.append(models.PointStruct(id=point, payload=payload, vector=vector.tolist()))
        if len(batch) == 1000:
            CLIENT.upsert(name, points=batch)
            batch = []
    if batch:
        CLIENT.upsert(name, points=batch)


def load_storage() -> None:
    """Every collection's segments, then the aliases; a recover cut short is settled first."""
    COLLECTIONS.mkdir(parents=True, exist_ok=True)
    for path in sorted(COLLECTIONS.glob(".*")):
        kind, _, name = path.name[1:].partition("-")
        if kind == "old" and not (COLLECTIONS / name).exists():
            os.replace(path, COLLECTIONS / name)  # the recover had not swapped in the new one
        else:
            shutil.rmtree(path)
    for path in sorted(COLLECTIONS.iterdir()):
        STORE[path.name] = segments.Collection(path)
        _load(path.name, STORE[path.name])
    saved = json.loads(ALIASES.read_bytes()) if ALIASES.exists() else {}
    actions = [
        models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=target, alias_name=alias)
        )
        for alias, target in sorted(saved.items())
        if target in STORE
    ]
    if actions:
        CLIENT.update_collection_aliases(change_aliases_operations=actions)


def create_collection(m, body):
    name, spec = m[1], models.CreateCollection(**body)
    if not isinstance(spec.vectors, models.VectorParams):
        raise ValueError("Bad request: the stand-in stores one unnamed dense vector per point")
    if name.startswith(".") or name in STORE:
        raise ValueError(f"Wrong input: Collection `{name}` already exists!")
    result = CLIENT.create_collection(name, vectors_config=spec.vectors)
    try:
        STORE[name] = segments.Collection.create(COLLECTIONS / name, _json(spec.vectors))
    except Exception:
        CLIENT.delete_collection(name)
        raise
    return result


def delete_collection(m, _b):
    name = m[1]
    store = STORE.pop(name, None)
    if store:
        store.close()
        doomed = COLLECTIONS / f".deleted-{name}"
        os.replace(store.root, doomed)
        shutil.rmtree(doomed)
    result = CLIENT.delete_collection(name)
    _save_aliases()  # Qdrant drops the aliases of a deleted collection
    return result


def upsert(m, body):
    name = _resolve(m[1])
    points = models.PointsList(**body).points
    size = STORE[name].size
    if not all(isinstance(p.vector, list) and len(p.vector) == size for p in points):
        raise ValueError(f"Wrong input: Vector dimension error: expected dim: {size}")
    matrix = numpy.asarray([p.vector for p in points], dtype=numpy.float32)
    rows = [(_point_id(p.id), p.payload or {}) for p in points]
    STORE[name].upsert(rows, matrix)  # the store first: what memory holds is on disk
    structs = [
        models.PointStruct(id=point, payload=payload, vector=vector.tolist())
        for (point, payload), vector in zip(rows, matrix, strict=True)
    ]
    return _json(CLIENT.upsert(name, points=structs))


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
    name = _resolve(m[1])
    ids = [_point_id(p) for p in models.PointIdsList(**body).points]
    STORE[name].delete(ids)
    return _json(CLIENT.delete(name, points_selector=models.PointIdsList(points=ids)))


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
    result = CLIENT.update_collection_aliases(change_aliases_operations=actions)
    _save_aliases()
    return result


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


def create_snapshot(m, _b):
    """POST /collections/{name}/snapshots: a tar of the collection's segment files."""
    name = _resolve(m[1])
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d-%H-%M-%S")
    os.makedirs(_snapshot_dir(name), exist_ok=True)
    path = os.path.join(_snapshot_dir(name), f"{name}-{os.getpid()}-{stamp}.snapshot")
    with open(path + ".tmp", "wb") as out:
        STORE[name].snapshot(out)
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
    """The snapshot's segment files replace the collection's, then memory is reloaded."""
    if checksum and hashlib.sha256(data).hexdigest() != checksum:
        raise ValueError("Bad request: Snapshot checksum mismatch")
    if name.startswith("."):
        raise ValueError(f"Bad request: bad collection name {name}")
    fresh, old = COLLECTIONS / f".new-{name}", COLLECTIONS / f".old-{name}"
    shutil.rmtree(fresh, ignore_errors=True)
    try:
        segments.unpack(data, fresh).close()  # loaded once: a bad archive stops here
    except Exception:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    kept = [a.alias_name for a in CLIENT.get_aliases().aliases if a.collection_name == name]
    if name in STORE:
        STORE.pop(name).close()
        os.replace(COLLECTIONS / name, old)
    os.replace(fresh, COLLECTIONS / name)  # a crash between: the start puts `old` back
    shutil.rmtree(old, ignore_errors=True)
    STORE[name] = segments.Collection(COLLECTIONS / name)
    if CLIENT.collection_exists(name):
        CLIENT.delete_collection(name)
    _load(name, STORE[name])
    if kept:
        CLIENT.update_collection_aliases(
            change_aliases_operations=[
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=name, alias_name=alias)
                )
                for alias in kept
            ]
        )
    _save_aliases()
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
    load_storage()  # before serving, as Qdrant loads its collections
    ThreadingHTTPServer.daemon_threads = True
    port = int(os.environ.get("QDRANT__SERVICE__HTTP_PORT", "6333"))
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()  # noqa: S104

"""manifest.json: what a backup holds (each artefact's checksum, size and consistency),
written at create and verified before a rollback changes anything."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import sys
import tarfile

from .messages import HelperFailed
from .names import QDRANT_VOLUME, VOLUMES, name

FORMAT = 3
_FILE_NAME = re.compile(r"[A-Za-z0-9._-]+")
COUNTS = ("qdrant_collections", "qdrant_points", "redis_keys", "app_files", "app_bytes")


class Invalid(Exception):
    """The restored backup does not verify; the message lists every problem."""


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def app_counts(path: str) -> tuple[int, int]:
    """(files, bytes) of the regular files in a tar."""
    files = size = 0
    with tarfile.open(path) as archive:
        for member in archive:
            if member.isfile():
                files, size = files + 1, size + member.size
    return files, size


def _volume(item: dict, fields: list[str], path: str) -> None:
    item["volume"] = fields[1]
    item["format"] = "tar"
    if fields[2] == "redis-aof":
        item["consistency"] = (
            "the multi-part AOF (manifest, base, incr files) between two commands, no"
            f" rewrite during the copy; the last incr file kept to {fields[3]} bytes"
        )
    elif fields[2] == "redis":
        item["consistency"] = f"the BGSAVE snapshot dump.rdb only (redis LASTSAVE {fields[3]})"
    else:
        item["files"], item["content_bytes"] = app_counts(path)
        item["consistency"] = "copy of the live volume (tar; a file written meanwhile may be torn)"


def document(work: str, name: str, stack: str, host: str, keys: int | str, lines: list[str]):
    """The manifest of the artefacts in `work`, from the artefact list's `lines`."""
    artefacts, images, version, aliases = [], [], "?", {}
    for line in lines:
        kind, *fields = line.split(" ")
        if kind == "qdrant-aliases":
            aliases = json.loads(line.split(" ", 1)[1])
            continue
        if kind == "image":
            service, container, image, image_id = fields
            images.append(
                {"service": service, "container": container, "image": image, "image_id": image_id}
            )
            continue
        if kind == "qdrant-version":
            version = fields[0]
            continue
        path = os.path.join(work, fields[0])
        item = {
            "file": fields[0],
            "kind": kind,
            "bytes": os.path.getsize(path),
            "sha256": fields[3] if kind == "qdrant-snapshot" else sha256_of(path),
        }
        if kind == "volume":
            _volume(item, fields, path)
        else:
            item["collection"], item["points"] = fields[1], int(fields[2])
            item["format"] = "qdrant collection snapshot"
            item["consistency"] = "Qdrant's own snapshot (POST /collections/{name}/snapshots)"
        artefacts.append(item)
    app = next(a for a in artefacts if a.get("volume", "").endswith("-app-data"))
    snaps = [a for a in artefacts if a["kind"] == "qdrant-snapshot"]
    counts = {
        "qdrant_collections": len(snaps),
        "qdrant_points": sum(a["points"] for a in snaps),
        "redis_keys": int(keys),
        "app_files": app["files"],
        "app_bytes": app["content_bytes"],
    }
    return {
        "format": FORMAT,
        "name": name,
        "stack": stack,
        "host": host,
        "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "qdrant": {
            "version": version,
            "collections": {a["collection"]: a["points"] for a in snaps},
            "aliases": aliases,
        },
        "counts": counts,
        "artefacts": artefacts,
        "images": images,
    }


def write(work: str, described: dict) -> tuple[int, list[str]]:
    """manifest.json into `work`; returns the bytes of the artefacts before dedup, and the
    counts as restic tags (KEY=VALUE)."""
    try:
        with open(os.path.join(work, "manifest.json"), "w") as out:
            json.dump(described, out, indent=2)
            out.write("\n")
    except OSError as error:  # a full staging disk: one line, no traceback
        raise HelperFailed(
            f"cannot write {work}/manifest.json: {error.strerror} (disk full?); no backup was"
            " stored"
        ) from None
    total = sum(a["bytes"] for a in described["artefacts"])
    return total, [f"{k}={v}" for k, v in described["counts"].items()]


def verify(directory: str, stack: str, log=None) -> list[tuple[str, str, str]]:
    """Every artefact of the restored backup in `directory` against its manifest: the plan
    of a rollback, (kind, file, volume or collection); raises Invalid listing the problems."""
    log = log or sys.stderr
    path = os.path.join(directory, "manifest.json")
    if not os.path.isfile(path):
        raise Invalid("the snapshot has no manifest.json: not a backup.sh backup")
    with open(path) as handle:
        described = json.load(handle)
    problems, plan = [], []
    if described.get("stack") != stack:
        problems.append(f"the manifest is of stack {described.get('stack')!r}, not {stack!r}")
    volumes = VOLUMES if described.get("format", 1) >= 2 else (*VOLUMES, QDRANT_VOLUME)
    expected = {name(stack, v) for v in volumes}
    found = {
        a.get("volume")
        for a in described.get("artefacts", [])
        if a.get("kind", "volume") == "volume"
    }
    if found != expected:
        problems.append(f"the manifest names volumes {sorted(found)}, expected {sorted(expected)}")
    for item in described.get("artefacts", []):
        file = item.get("file", "")
        if not _FILE_NAME.fullmatch(file):
            problems.append(f"bad artefact file name {file!r}")
            continue
        artefact = os.path.join(directory, file)
        if not os.path.isfile(artefact):
            problems.append(f"{file}: missing")
        elif sha256_of(artefact) != item.get("sha256") or os.path.getsize(artefact) != item.get(
            "bytes"
        ):
            problems.append(f"{file}: sha256 or size does not match the manifest")
        else:
            shown = f"sha256 {item['sha256'][:16]}... {item['bytes']} bytes"
            print(f"verified {file}: {shown}", file=log, flush=True)
            target = item.get("volume") or item.get("collection")
            plan.append((item.get("kind", "volume"), file, str(target)))
    if problems:
        raise Invalid("verification failed, nothing was changed:\n  " + "\n  ".join(problems))
    return plan

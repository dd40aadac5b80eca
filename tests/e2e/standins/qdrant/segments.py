"""The Qdrant stand-in's segment store: how one collection lives on disk (numpy only).

Modelled on Qdrant's own storage: a collection is a few sealed (immutable) segments plus
one appendable segment; only the appendable segment and the sealed segments' deletion
bitmaps change with writes, so an unchanged sealed segment is byte-identical between two
snapshots (and restic stores it once).

    <root>/config.json                  {"format": FORMAT, "vectors": {"size", "distance"}}
    <root>/segments/<NNNNNN>/vectors.f32  float32 rows, row-major, `size` per row
    <root>/segments/<NNNNNN>/points.json  [[id, payload], ...] in row order
    <root>/segments/<NNNNNN>/deleted.bin  the deletion bitmap, numpy.packbits of the rows
    <root>/appendable.log               append-only records (below)

A log record is a header (u32 JSON length, u32 vector bytes, u32 crc32 of both parts), the
JSON {"op": "upsert", "points": [[id, payload], ...]} or {"op": "delete", "ids": [...]},
then an upsert's vectors as raw float32 rows. Loading replays it; a torn or corrupt last record (a
crash mid-append) is dropped and cut off. Sealed files are written to a temporary name,
fsynced and renamed; a segment directory appears by one rename. Every live id is in one
place: an upsert or delete of a sealed point sets its bit in that segment's bitmap, and
loading repairs what a crash between two steps left doubled (the later copy wins).

Optimizer, as Qdrant's defaults: the appendable segment is sealed once its vectors reach
SEAL_BYTES (Qdrant's indexing_threshold_kb, 10 000 KiB: 10 000 points at dimension 256);
a sealed segment of at least VACUUM_MIN points is rewritten without its deleted rows once
they are DELETED_THRESHOLD of it (Qdrant's deleted_threshold and vacuum_min_vector_number).
Small segments are not merged. The three values are the `storage.optimizers` defaults of
qdrant/qdrant's config/config.yaml (indexing_threshold_kb 10000, deleted_threshold 0.2,
vacuum_min_vector_number 1000).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy

FORMAT = "ora-qdrant-standin-segments/1"
SEAL_BYTES = 10_000 * 1024
DELETED_THRESHOLD = 0.2
VACUUM_MIN = 1000
HEADER = struct.Struct("<III")
LOG = "appendable.log"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file, fsync, rename: a reader sees the old or the new file, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def encode_record(record: dict, vectors: bytes = b"") -> bytes:
    body = json.dumps(record, separators=(",", ":")).encode()
    crc = zlib.crc32(vectors, zlib.crc32(body))
    return HEADER.pack(len(body), len(vectors), crc) + body + vectors


def read_log(path: Path) -> tuple[list[tuple[dict, bytes]], int]:
    """The whole records of the log and the length they take; a torn tail is not counted."""
    data = path.read_bytes() if path.exists() else b""
    records, at = [], 0
    while at + HEADER.size <= len(data):
        length, size, crc = HEADER.unpack_from(data, at)
        body = data[at + HEADER.size : at + HEADER.size + length + size]
        if len(body) < length + size or zlib.crc32(body) != crc:
            break
        records.append((json.loads(body[:length]), body[length:]))
        at += HEADER.size + length + size
    return records, at


class Segment:
    """A sealed segment: its ids in row order and its deletion bitmap (vectors stay on disk)."""

    def __init__(self, path: Path):
        self.path = path
        self.number = int(path.name)
        self.ids = [row[0] for row in json.loads((path / "points.json").read_bytes())]
        self.rows = {point: row for row, point in enumerate(self.ids)}
        bits = numpy.frombuffer((path / "deleted.bin").read_bytes(), dtype=numpy.uint8)
        self.deleted = numpy.unpackbits(bits, count=len(self.ids)).astype(bool)

    def live(self) -> Iterator[tuple[object, dict, numpy.ndarray]]:
        rows = json.loads((self.path / "points.json").read_bytes())
        vectors = numpy.fromfile(self.path / "vectors.f32", dtype=numpy.float32)
        vectors = vectors.reshape(len(rows), -1) if rows else vectors
        for row, (point, payload) in enumerate(rows):
            if not self.deleted[row]:
                yield point, payload, vectors[row]

    def save_deleted(self) -> None:
        write_atomic(self.path / "deleted.bin", numpy.packbits(self.deleted).tobytes())


class Collection:
    """One collection's segment store; the caller serialises calls (the stand-in's lock)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.config = json.loads((self.root / "config.json").read_bytes())
        if self.config.get("format") != FORMAT:
            raise ValueError(f"{self.root}: not a stand-in segment store of format {FORMAT}")
        self.size = int(self.config["vectors"]["size"])
        (self.root / "segments").mkdir(exist_ok=True)
        for stale in (self.root / "segments").glob(".tmp-*"):
            shutil.rmtree(stale)  # a seal or vacuum cut short: its source is still complete
        self.segments = {}
        self.where: dict[object, Segment | None] = {}  # None: in the appendable segment
        self.appendable: dict[object, tuple[dict, numpy.ndarray]] = {}
        touched: set[Segment] = set()
        for path in sorted((self.root / "segments").iterdir()):
            segment = self.segments[int(path.name)] = Segment(path)
            for row, point in enumerate(segment.ids):
                if not segment.deleted[row]:
                    self._forget(point, touched)  # a vacuum cut short: the newer copy wins
                    self.where[point] = segment
        records, length = read_log(self.root / LOG)
        with open(self.root / LOG, "ab") as handle:
            handle.truncate(length)  # a torn last record, from a crash mid-append
        for record, vectors in records:
            self._apply(record, vectors, touched)
        for segment in touched:
            segment.save_deleted()
        self.log = open(self.root / LOG, "ab")  # noqa: SIM115 - lives as long as the store

    @classmethod
    def create(cls, root: Path, vectors: dict) -> Collection:
        root = Path(root)
        root.mkdir(parents=True)
        (root / "segments").mkdir()
        write_atomic(root / LOG, b"")
        config = {"format": FORMAT, "vectors": vectors}
        write_atomic(root / "config.json", json.dumps(config, sort_keys=True).encode())
        return cls(root)

    def close(self) -> None:
        self.log.close()

    def count(self) -> int:
        return len(self.where)

    def points(self) -> Iterator[tuple[object, dict, numpy.ndarray]]:
        """Every live point, segment by segment, then the appendable segment."""
        for number in sorted(self.segments):
            yield from self.segments[number].live()
        for point, (payload, vector) in self.appendable.items():
            yield point, payload, vector

    # -- writes ------------------------------------------------------------------------------
    def upsert(self, points: list[tuple[object, dict]], vectors: numpy.ndarray) -> None:
        vectors = numpy.ascontiguousarray(vectors, dtype=numpy.float32)
        if vectors.shape != (len(points), self.size):
            raise ValueError(f"expected {len(points)} vectors of dimension {self.size}")
        self._write({"op": "upsert", "points": [list(p) for p in points]}, vectors.tobytes())

    def delete(self, ids: list) -> None:
        self._write({"op": "delete", "ids": list(ids)})

    def _write(self, record: dict, vectors: bytes = b"") -> None:
        self.log.write(encode_record(record, vectors))
        self.log.flush()
        os.fsync(self.log.fileno())
        touched: set[Segment] = set()
        self._apply(record, vectors, touched)
        for segment in touched:
            segment.save_deleted()
        if len(self.appendable) * self.size * 4 >= SEAL_BYTES:
            self.seal()
        for segment in touched:
            if segment.number in self.segments:
                self._maybe_vacuum(segment)

    def _forget(self, point, touched: set[Segment]) -> None:
        place = self.where.pop(point, None)
        if place is None:
            self.appendable.pop(point, None)
        else:
            place.deleted[place.rows[point]] = True
            touched.add(place)

    def _apply(self, record: dict, raw: bytes, touched: set[Segment]) -> None:
        if record["op"] == "delete":
            for point in record["ids"]:
                self._forget(point, touched)
            return
        vectors = numpy.frombuffer(raw, dtype=numpy.float32).reshape(-1, self.size)
        for (point, payload), vector in zip(record["points"], vectors, strict=True):
            self._forget(point, touched)
            self.appendable[point] = (payload, vector)
            self.where[point] = None

    # -- the optimizer -----------------------------------------------------------------------
    def _write_segment(self, rows: list[tuple[object, dict, numpy.ndarray]]) -> Segment:
        number = max(self.segments, default=0) + 1
        tmp = self.root / "segments" / f".tmp-{number:06d}"
        tmp.mkdir()
        matrix = numpy.asarray([r[2] for r in rows], dtype=numpy.float32).reshape(-1, self.size)
        files = {
            "vectors.f32": matrix.tobytes(),
            "points.json": json.dumps([[r[0], r[1]] for r in rows]).encode(),
            "deleted.bin": numpy.packbits(numpy.zeros(len(rows), dtype=bool)).tobytes(),
        }
        for name, data in files.items():
            write_atomic(tmp / name, data)
        final = self.root / "segments" / f"{number:06d}"
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        segment = self.segments[number] = Segment(final)
        return segment

    def seal(self) -> None:
        """The appendable segment becomes a sealed one; the log starts empty."""
        rows = [(p, payload, vector) for p, (payload, vector) in self.appendable.items()]
        if not rows:
            return
        segment = self._write_segment(rows)
        self.log.close()
        write_atomic(self.root / LOG, b"")  # a crash before this: the replay repeats the seal
        self.log = open(self.root / LOG, "ab")  # noqa: SIM115
        for point in self.appendable:
            self.where[point] = segment
        self.appendable = {}

    def _maybe_vacuum(self, segment: Segment) -> None:
        if len(segment.ids) < VACUUM_MIN or segment.deleted.mean() < DELETED_THRESHOLD:
            return
        rows = list(segment.live())
        if rows:  # a segment with nothing left goes without a successor
            fresh = self._write_segment(rows)
            for point, _payload, _vector in rows:
                self.where[point] = fresh
        del self.segments[segment.number]
        shutil.rmtree(segment.path)  # a crash before this: loading drops the older copies

    # -- snapshots ---------------------------------------------------------------------------
    def files(self) -> list[Path]:
        """The store's files in a stable order: the config and every deletion bitmap first
        (what writes change sits together, so a backup's chunker sees one changed region),
        then the sealed segments' points and vectors, then the appendable log."""
        paths = [self.segments[n].path for n in sorted(self.segments)]
        found = [self.root / "config.json", *(p / "deleted.bin" for p in paths)]
        found += [p / n for p in paths for n in ("points.json", "vectors.f32")]
        return [*found, self.root / LOG]

    def snapshot(self, out) -> None:
        """An uncompressed tar of the files as they are: stable member order and headers."""
        self.log.flush()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            for path in self.files():
                info = tarfile.TarInfo(path.relative_to(self.root).as_posix())
                info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
                with open(path, "rb") as handle:
                    archive.addfile(info, handle)


def _member_ok(member: tarfile.TarInfo) -> bool:
    parts = member.name.split("/")
    if not member.isfile() or member.name.startswith("/") or ".." in parts:
        return False
    if len(parts) == 1:
        return member.name in ("config.json", LOG)
    return (
        len(parts) == 3
        and parts[0] == "segments"
        and parts[1].isdigit()
        and parts[2] in ("vectors.f32", "points.json", "deleted.bin")
    )


def unpack(data: bytes, root: Path) -> Collection:
    """A snapshot's files into the new directory `root`, loaded (so checked)."""
    root = Path(root)
    root.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for member in archive.getmembers():
            if not _member_ok(member):
                raise ValueError(f"Bad request: unexpected snapshot member {member.name!r}")
            target = root / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, archive.extractfile(member).read())
    if not (root / "config.json").exists():
        raise ValueError(f"Bad request: not a stand-in snapshot of format {FORMAT}")
    return Collection(root)

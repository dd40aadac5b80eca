"""Why a backup of the drill's data adds so much when 1 % of it changed, and what restic
costs next to tar: real restic on local files, no Docker (the drill itself is
`make backup-drill`).

The data is N fixed-size random records in one file (like Qdrant's vectors or a Redis RDB:
incompressible, one record after another). Each scenario backs it up into a fresh
repository, rewrites 1 % of the records, backs up again, and reports the second backup's
added bytes / the first's (the drill's goal: <= 0.1):
  spread     every 100th record rewritten in place (what the drill's change() does);
  clustered  1 % of the records, contiguous, rewritten in place;
  appended   1 % rewritten as new records at the end (how an append-only store such as
             Qdrant's segments or a Redis AOF grows).
Qdrant (every 100th point upserted, as the drill's change() does): what the second
backup adds when the snapshot is the e2e stand-in's (its own segment store,
tests/e2e/standins/qdrant/segments.py, seeded in the drill's batches) and when it is a
model of Qdrant's segment files (the changed points appended to an appendable segment and
the WAL, only marked deleted in the others).
It also times restic backup against tar of the same file (the drill's goal: <= 1.5), with
restic's compression auto and off.

Redis, for real (redis-server with the stack's persistence settings, 100,000 keys of 32
hex characters, 1 % of them rewritten spread evenly, as the drill does): what the second
backup adds when each backup stores BGSAVE's dump.rdb (rewritten whole every time) and when
it stores the multi-part AOF's base and incr files (backup.sh since format 3).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy

sys.path.append(
    str(Path(__file__).resolve().parent.parent / "tests" / "e2e" / "standins" / "qdrant")
)
import segments as standin_store  # the stand-in's own module, as the image runs it

RECORDS = int(os.environ.get("ORA_BENCH_RECORDS", "65536"))
RECORD = 1024  # bytes: a 256-dimension float32 vector
FRACTION = 0.01


def restic(repository: Path, password: Path, *args: str) -> str:
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": str(repository),
        "RESTIC_PASSWORD_FILE": str(password),
    }
    return subprocess.run(
        ["restic", *args], env=env, capture_output=True, text=True, check=True
    ).stdout


def backup(repository: Path, password: Path, data: Path, *flags: str) -> tuple[float, int]:
    started = time.perf_counter()
    out = restic(repository, password, "backup", "--json", *flags, str(data))
    summary = json.loads(out.strip().splitlines()[-1])
    return time.perf_counter() - started, summary["data_added"]


def mutate(path: Path, how: str) -> None:
    changed = int(RECORDS * FRACTION)
    with path.open("r+b") as handle:
        if how == "spread":
            for i in range(0, RECORDS, RECORDS // changed):
                handle.seek(i * RECORD)
                handle.write(os.urandom(RECORD))
        elif how == "clustered":
            handle.seek(RECORDS // 2 * RECORD)
            handle.write(os.urandom(changed * RECORD))
        else:
            handle.seek(0, 2)
            handle.write(os.urandom(changed * RECORD))


def scenario(base: Path, password: Path, how: str) -> float:
    data = base / how
    data.mkdir()
    (data / "records.bin").write_bytes(os.urandom(RECORDS * RECORD))
    repository = base / f"repo-{how}"
    restic(repository, password, "init")
    _, first = backup(repository, password, data)
    mutate(data / "records.bin", how)
    _, second = backup(repository, password, data)
    return second / first


def timings(base: Path, password: Path) -> dict[str, float]:
    data = base / "timed"
    data.mkdir()
    (data / "records.bin").write_bytes(os.urandom(RECORDS * RECORD))
    started = time.perf_counter()
    subprocess.run(["tar", "-cf", str(base / "timed.tar"), "-C", str(data), "."], check=True)
    result = {"tar": time.perf_counter() - started}
    for compression in ("auto", "off"):
        repository = base / f"repo-timed-{compression}"
        restic(repository, password, "init")
        result[compression], _ = backup(repository, password, data, f"--compression={compression}")
    return result


# -- Qdrant snapshots: the stand-in's format against a model of Qdrant's segments ----------
POINT_IDS = range(RECORDS)
SEGMENTS = 2  # Qdrant's default_segment_number 0: one per CPU (2 here)


def tar_of(target: Path, files: dict[str, bytes]) -> None:
    """An uncompressed tar (both snapshot formats are), members in the order given."""
    with tarfile.open(target, "w", format=tarfile.GNU_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def standin_upsert(store, ids: list[int], vectors: dict[int, bytes], payloads: dict) -> None:
    matrix = numpy.frombuffer(b"".join(vectors[i] for i in ids), dtype=numpy.float32)
    store.upsert([(i, payloads[i]) for i in ids], matrix.reshape(len(ids), -1))


def standin_snapshot(store) -> dict[str, bytes]:
    """tests/e2e/standins/qdrant: the members of its snapshot, its segment store's files."""
    out = io.BytesIO()
    store.snapshot(out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers()}


def segment_snapshot(segments: list[dict], appendable: dict, wal: bytes) -> dict[str, bytes]:
    """A model of a Qdrant collection snapshot: per segment its vector file, payloads, id
    mapping, deleted flags and version; an upsert lands in the appendable segment and marks
    the point deleted where it was (the segment files of Qdrant, not their exact bytes)."""
    files = {}
    for n, segment in enumerate([*segments, appendable]):
        ids = segment["ids"]
        prefix = f"0/segments/segment-{n}"
        files[f"{prefix}/segment.json"] = json.dumps({"version": segment["version"]}).encode()
        files[f"{prefix}/vector_storage/vectors.dat"] = b"".join(segment["vectors"])
        files[f"{prefix}/payload_storage/payloads.dat"] = b"".join(
            json.dumps(p).encode() + b"\n" for p in segment["payloads"]
        )
        files[f"{prefix}/id_tracker/mappings.dat"] = b"".join(i.to_bytes(8, "little") for i in ids)
        files[f"{prefix}/id_tracker/deleted.dat"] = bytes(segment["deleted"])
    files["0/wal/open-1"] = wal.ljust(32 << 20, b"\0")  # Qdrant preallocates 32 MiB
    files["config.json"] = b'{"params": {"vectors": {"size": 256, "distance": "Cosine"}}}'
    return files


def qdrant_scenario(base: Path, password: Path) -> dict[str, float]:
    """Second backup added / first after the drill's change(): every 100th point upserted
    with a new vector and payload, for both snapshot formats."""
    vectors = {i: os.urandom(RECORD) for i in POINT_IDS}
    payloads = {i: {"n": i, "text": secrets.token_hex(16)} for i in POINT_IDS}
    per = RECORDS // SEGMENTS
    segments = [
        {
            "ids": list(range(s * per, (s + 1) * per)),
            "vectors": [vectors[i] for i in range(s * per, (s + 1) * per)],
            "payloads": [payloads[i] for i in range(s * per, (s + 1) * per)],
            "deleted": bytearray(per),
            "version": RECORDS,
        }
        for s in range(SEGMENTS)
    ]
    appendable = {"ids": [], "vectors": [], "payloads": [], "deleted": bytearray(), "version": 0}
    wal = b""
    store = standin_store.Collection.create(
        base / "standin-store", {"size": RECORD // 4, "distance": "Cosine"}
    )
    for start in range(0, RECORDS, 2_000):  # the drill's batches
        standin_upsert(store, list(POINT_IDS[start : start + 2_000]), vectors, payloads)
    first = {"stand-in": standin_snapshot(store)}
    first["segments"] = segment_snapshot(segments, appendable, wal)

    changed = list(range(0, RECORDS, int(1 / FRACTION)))
    for i in changed:
        vectors[i], payloads[i] = os.urandom(RECORD), {"n": i, "changed": True}
        segment = segments[i // per]
        segment["deleted"][i % per] = 1
        segment["version"] += 1
        appendable["ids"].append(i)
        appendable["vectors"].append(vectors[i])
        appendable["payloads"].append(payloads[i])
        appendable["deleted"].append(0)
        appendable["version"] += 1
        wal += json.dumps({"upsert": i, "payload": payloads[i]}).encode() + vectors[i]
    standin_upsert(store, changed, vectors, payloads)  # one request, as the drill's change()
    second = {"stand-in": standin_snapshot(store)}
    store.close()
    second["segments"] = segment_snapshot(segments, appendable, wal)

    results = {}
    for kind in ("stand-in", "segments"):
        data = base / f"qdrant-{kind}"
        data.mkdir()
        repository = base / f"repo-qdrant-{kind}"
        restic(repository, password, "init")
        added = []
        for snapshot in (first[kind], second[kind]):
            tar_of(data / "collection.snapshot", snapshot)
            added.append(backup(repository, password, data)[1])
        results[kind] = added[1] / added[0]
    return results


KEYS = 100_000


def redis_cli(sock: Path, *args: str) -> str:
    done = subprocess.run(["redis-cli", "-s", str(sock), *args], capture_output=True, text=True)
    return done.stdout


def redis_scenario(base: Path, password: Path) -> dict[str, float]:
    """Second backup added / first, for dump.rdb and for the AOF files, on a real Redis."""
    data = base / "redis"
    data.mkdir()
    sock = data / "sock"
    settings = ["--port", "0", "--unixsocket", str(sock), "--dir", str(data)]
    settings += ["--appendonly", "yes", "--aof-use-rdb-preamble", "yes"]
    settings += ["--appendfsync", "everysec"]
    server = subprocess.Popen(["redis-server", *settings], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() or redis_cli(sock, "PING").strip() != "PONG":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(sock))
            for start in range(0, KEYS, 5_000):
                args = ["MSET"]
                for i in range(start, start + 5_000):
                    args += [f"drill:{i}", secrets.token_hex(16)]
                send(conn, args)
        results = {}
        for kind in ("rdb", "aof"):
            repository = base / f"repo-redis-{kind}"
            restic(repository, password, "init")
            added = []
            for round_ in range(2):
                if round_:
                    with socket.socket(socket.AF_UNIX) as conn:
                        conn.connect(str(sock))
                        pairs = [x for i in range(0, KEYS, 100) for x in (f"drill:{i}", f"c{kind}")]
                        send(conn, ["MSET", *pairs])
                if kind == "rdb":
                    before = redis_cli(sock, "LASTSAVE")
                    time.sleep(1.1)
                    redis_cli(sock, "BGSAVE")
                    while redis_cli(sock, "LASTSAVE") == before:
                        time.sleep(0.05)
                    target = data / "dump.rdb"
                else:
                    time.sleep(1.1)  # appendfsync everysec: the MSET is in the file
                    target = data / "appendonlydir"
                added.append(backup(repository, password, target)[1])
            results[kind] = added[1] / added[0]
        return results
    finally:
        server.terminate()
        server.wait(timeout=10)


def send(conn: socket.socket, args: list[str]) -> None:
    """One command in RESP, and its one-line reply."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        raw = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    conn.sendall(b"".join(parts))
    reply = b""
    while not reply.endswith(b"\r\n"):
        reply += conn.recv(4096)
    assert reply.startswith(b"+OK"), reply


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="ora-backup-bench-"))
    try:
        password = base / "password"
        password.write_text("bench-password-0123456789\n")
        print(f"{RECORDS} records of {RECORD} B ({RECORDS * RECORD >> 20} MiB), 1 % changed")
        for how in ("spread", "clustered", "appended"):
            ratio = scenario(base, password, how)
            print(f"  {how:9}  second backup added / first: {ratio:.3f}  (goal <= 0.1)")
        qdrant = qdrant_scenario(base, password)
        print(f"Qdrant, {RECORDS} points, every 100th upserted (the drill's change()):")
        for kind, label in (("stand-in", "stand-in's segments"), ("segments", "model of segments")):
            print(f"  {label:22}  second backup added / first: {qdrant[kind]:.3f}  (goal <= 0.1)")
        redis = redis_scenario(base, password)
        print(f"Redis, {KEYS} keys, 1 % rewritten spread evenly (a real redis-server):")
        for kind, label in (("rdb", "dump.rdb (BGSAVE)"), ("aof", "AOF base + incr files")):
            print(f"  {label:22}  second backup added / first: {redis[kind]:.3f}  (goal <= 0.1)")
        times = timings(base, password)
        for compression in ("auto", "off"):
            print(
                f"  restic backup (compression {compression}) {times[compression]:.2f} s"
                f" / tar {times['tar']:.2f} s = {times[compression] / times['tar']:.2f}"
                " (goal <= 1.5)"
            )
    finally:
        shutil.rmtree(base)
    return 0


if __name__ == "__main__":
    sys.exit(main())

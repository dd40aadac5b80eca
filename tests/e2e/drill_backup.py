"""The restore drill at scale (a benchmark): 100,000 vectors, 100,000 Redis keys and app
data on the e2e stack; back up, change 1 %, back up again, delete some, roll back, then
compare everything; last, a fresh rollback from the off-host (SFTP) copy alone.

Collected only when named: `make backup-drill` (through the e2e lock). Prints:
backup time / tar of the same volumes, second backup's added size / first's, rollback
time, off-host restore time, and the lost and changed counts (goal: 0 and 0).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import subprocess
import tarfile
import time

import numpy
import pytest
import redis
from qdrant_client import QdrantClient, models

from tests.e2e.test_backup import all_healthy, backup, store
from tests.e2e.test_backup_offsite import sftp  # noqa: F401 - the SFTP server fixture

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.destructive,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),  # qdrant-client: api key over http
]

# The scale; ORA_DRILL_POINTS and ORA_DRILL_KEYS lower it for a quicker run (the
# Qdrant stand-in stores 100,000 points of dimension 256 in ~30 s, and loads them in ~12 s).
POINTS = int(os.environ.get("ORA_DRILL_POINTS", "100000"))
KEYS = int(os.environ.get("ORA_DRILL_KEYS", "100000"))
FILES = 500
FILE_BYTES = 64 * 1024
COLLECTION = "drill"
BATCH = 2_000


def secret_of(container, path: str, env_name: str) -> str:
    """A secret from the container's file, or (older deployments) its environment."""
    result = container.exec_run(["sh", "-c", f'cat {path} 2>/dev/null || printf %s "${env_name}"'])
    return result.output.decode().strip()


def address(container) -> str:
    networks = container.attrs["NetworkSettings"]["Networks"]
    return next(n["IPAddress"] for name, n in networks.items() if name.endswith("-internal"))


@pytest.fixture(scope="module")
def stores(deployment):
    client = deployment.client
    names = deployment.outputs["containers"]
    qdrant_c, redis_c = (
        client.containers.get(names["qdrant"]),
        client.containers.get(names["redis"]),
    )
    key = secret_of(qdrant_c, "/run/secrets/qdrant-api-key", "QDRANT__SERVICE__API_KEY")
    password = secret_of(redis_c, "/run/secrets/redis-password", "REDISCLI_AUTH")
    qdrant = QdrantClient(url=f"http://{address(qdrant_c)}:6333", api_key=key, timeout=600)
    red = redis.Redis(host=address(redis_c), password=password, socket_timeout=60)
    return qdrant, red


def helper(deployment, volume: str, *command: str, stdin: bytes | None = None) -> bytes:
    image = deployment.client.containers.get(deployment.outputs["containers"]["redis"]).image.id
    args = ["docker", "run", "--rm", "-i", "--network", "none", "--user", "0:0"]
    args += ["-v", f"{volume}:/v", "--entrypoint", command[0], image, *command[1:]]
    return subprocess.run(args, input=stdin, capture_output=True, check=True).stdout


def upsert(qdrant, ids, vectors, payloads) -> None:
    points = [
        models.PointStruct(id=i, vector=v, payload=p)
        for i, v, p in zip(ids, vectors, payloads, strict=True)
    ]
    qdrant.upsert(COLLECTION, points=points)


def seed(deployment, qdrant, red) -> None:
    store(deployment, "the drill's own document, stored by the app")  # creates its collection
    dim = qdrant.get_collection("ora_documents").config.params.vectors.size
    rng = numpy.random.default_rng(7)
    if qdrant.collection_exists(COLLECTION):
        qdrant.delete_collection(COLLECTION)
    qdrant.create_collection(
        COLLECTION, models.VectorParams(size=dim, distance=models.Distance.COSINE)
    )
    for start in range(0, POINTS, BATCH):
        ids = list(range(start, min(start + BATCH, POINTS)))
        vectors = rng.random((len(ids), dim), dtype=numpy.float32)
        payloads = [{"n": i, "tag": f"t{i % 97}", "text": f"drill point {i}"} for i in ids]
        upsert(qdrant, ids, vectors.tolist(), payloads)
    pipe = red.pipeline(transaction=False)
    for start in range(0, KEYS, 5_000):
        pipe.mset(
            {f"drill:{i}": secrets.token_hex(16) for i in range(start, min(start + 5_000, KEYS))}
        )
    pipe.execute()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for i in range(FILES):
            info = tarfile.TarInfo(f"drill/file-{i:04d}.bin")
            info.size = FILE_BYTES
            tar.addfile(info, io.BytesIO(os.urandom(FILE_BYTES)))
    helper(deployment, "ora-dev-app-data", "tar", "-x", "-C", "/v", stdin=archive.getvalue())


def state(deployment, qdrant, red) -> dict[str, dict]:
    """Every point (id, payload, vector), every drill key of Redis (DUMP; the stack's own keys
    move with its clock), every app file (sha256)."""
    points = {}
    for name in [c.name for c in qdrant.get_collections().collections]:
        offset = None
        while True:
            page, offset = qdrant.scroll(
                name, limit=2_000, offset=offset, with_payload=True, with_vectors=True
            )
            for p in page:
                # Cosine vectors are normalised on every upsert, so a restore through the
                # stand-in's upserts may move them by an ulp: compared within 1e-6 below.
                vector = numpy.asarray(p.vector, dtype=numpy.float32)
                payload = hashlib.sha256(json.dumps(p.payload, sort_keys=True).encode())
                points[f"{name}/{p.id}"] = (payload.hexdigest(), vector)
            if offset is None:
                break
    keys = {}
    for key in red.scan_iter(match="drill:*", count=5_000):
        keys[key.decode()] = hashlib.sha256(red.dump(key) or b"").hexdigest()
    listing = helper(
        deployment, "ora-dev-app-data", "sh", "-c", "cd /v && find . -type f -exec sha256sum {} +"
    )
    files = {line[66:]: line[:64] for line in listing.decode().splitlines()}
    return {"points": points, "keys": keys, "files": files}


def same(a, b) -> bool:
    if isinstance(a, tuple):
        return a[0] == b[0] and numpy.allclose(a[1], b[1], rtol=0, atol=1e-6)
    return a == b


def compare(expected, actual) -> tuple[int, int]:
    lost = changed = 0
    for kind in expected:
        for name, value in expected[kind].items():
            if name not in actual[kind]:
                lost += 1
            elif not same(value, actual[kind][name]):
                changed += 1
    return lost, changed


def change(deployment, qdrant, red, fraction: float) -> None:
    n = int(POINTS * fraction)
    ids = list(range(0, POINTS, POINTS // n))[:n]
    dim = qdrant.get_collection(COLLECTION).config.params.vectors.size
    vectors = numpy.random.default_rng(8).random((n, dim), dtype=numpy.float32).tolist()
    payloads = [{"n": i, "changed": True} for i in ids]
    upsert(qdrant, ids, vectors, payloads)
    red.mset({f"drill:{i}": "changed" for i in range(0, KEYS, KEYS // n)})
    for i in range(0, FILES, int(1 / fraction)):
        helper(
            deployment,
            "ora-dev-app-data",
            "sh",
            "-c",
            f"head -c {FILE_BYTES} /dev/urandom > /v/drill/file-{i:04d}.bin",
        )


def delete_some(deployment, qdrant, red) -> None:
    qdrant.delete(
        COLLECTION, points_selector=models.PointIdsList(points=list(range(1, POINTS, 97)))
    )
    red.delete(*[f"drill:{i}" for i in range(1, KEYS, 97)])
    helper(deployment, "ora-dev-app-data", "sh", "-c", "rm -f /v/drill/file-00*")


def repo_bytes(env) -> int:
    out = subprocess.run(
        ["restic", "stats", "--mode", "raw-data", "--json"],
        env=env,
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)["total_size"]


def restic_json(env, *args):
    out = subprocess.run(["restic", *args, "--json"], env=env, capture_output=True, check=True)
    return json.loads(out.stdout)


def restic_cat(env, *args):
    out = subprocess.run(["restic", "cat", *args], env=env, capture_output=True, check=True)
    return json.loads(out.stdout)


def files_of(env, name: str) -> dict[str, list[str]]:
    """{file: its content blob ids} of the backup `name`, walking its trees."""
    snaps = restic_json(env, "snapshots", "--tag", f"name={name}")
    found, trees = {}, [restic_cat(env, "snapshot", snaps[-1]["id"])["tree"]]
    while trees:
        for node in restic_cat(env, "blob", trees.pop())["nodes"]:
            if node["type"] == "dir":
                trees.append(node["subtree"])
            elif node["type"] == "file":
                found[node["name"]] = node.get("content") or []
    return found


def added_by_file(env, first: str, second: str) -> dict[str, int]:
    """Stored bytes of each file of backup `second` whose blobs backup `first` lacks: where
    the second backup's added size comes from."""
    sizes = {}
    for index in subprocess.run(
        ["restic", "list", "index"], env=env, capture_output=True, text=True, check=True
    ).stdout.split():
        for pack in restic_cat(env, "index", index)["packs"]:
            sizes.update({b["id"]: b["length"] for b in pack["blobs"]})
    seen = {blob for blobs in files_of(env, first).values() for blob in blobs}
    return {
        name: sum(sizes[b] for b in set(blobs) - seen)
        for name, blobs in sorted(files_of(env, second).items())
    }


def timed(env, *args) -> tuple[float, str]:
    started = time.monotonic()
    result = backup(env, *args)
    assert result.returncode == 0, result.stderr
    return time.monotonic() - started, result.stdout.strip()


def test_restore_drill_at_scale(deployment, stores, sftp, tmp_path):  # noqa: F811
    qdrant, red = stores
    repository, login = sftp
    password = tmp_path / "password"
    password.write_text(secrets.token_urlsafe(32) + "\n")
    env = {
        **os.environ,
        **login,
        "ORA_STACK": "dev",
        "RESTIC_REPOSITORY": str(tmp_path / "repo"),
        "RESTIC_PASSWORD_FILE": str(password),
        "ORA_BACKUP_STAGING": str(tmp_path / "staging"),
        "ORA_BACKUP_TEXTFILE_DIR": str(tmp_path / "textfile"),
        "ORA_BACKUP_OFFSITE_REPOSITORY": repository,
        "ORA_BACKUP_HEALTH_TIMEOUT": "600",
    }
    all_healthy(deployment)
    # A backup of the stack before the seed creates both repositories (restic init: ~3 s of
    # key derivation each here), once, as on a host whose timer has run before: the timed
    # backup below then stores all the data into existing repositories.
    setup_seconds, _ = timed(env, "create")
    started = time.monotonic()
    seed(deployment, qdrant, red)
    print(
        f"\n[drill] seeded {POINTS} points, {KEYS} keys, {FILES} files"
        f" in {time.monotonic() - started:.0f} s"
    )
    expected = state(deployment, qdrant, red)

    staging = tmp_path / "tar"
    staging.mkdir()
    started = time.monotonic()
    for volume in ("ora-dev-qdrant-data", "ora-dev-redis-data", "ora-dev-app-data"):
        with (staging / f"{volume}.tar").open("wb") as out:
            image = deployment.client.containers.get(
                deployment.outputs["containers"]["redis"]
            ).image.id
            subprocess.run(
                [
                    "docker",
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "--user",
                    "0:0",
                    "-v",
                    f"{volume}:/v:ro",
                    "--entrypoint",
                    "tar",
                    image,
                    "-C",
                    "/v",
                    "-cf",
                    "-",
                    ".",
                ],
                stdout=out,
                check=True,
            )
    tar_seconds = time.monotonic() - started

    first_seconds, first = timed(env, "create")
    first_size = repo_bytes(env)
    change(deployment, qdrant, red, 0.01)
    second_seconds, second = timed(env, "create")
    second_added = repo_bytes(env) - first_size
    by_file = added_by_file(env, first, second)
    delete_some(deployment, qdrant, red)
    rollback_seconds, _ = timed(env, "rollback", first)
    all_healthy(deployment)
    lost, changed = compare(expected, state(deployment, qdrant, red))

    delete_some(deployment, qdrant, red)
    offsite = {
        **env,
        "RESTIC_REPOSITORY": repository,
        "ORA_BACKUP_STAGING": str(tmp_path / "staging2"),
    }
    offsite.pop("ORA_BACKUP_OFFSITE_REPOSITORY")
    offsite_seconds, _ = timed(offsite, "rollback", first)
    all_healthy(deployment)
    offsite_lost, offsite_changed = compare(expected, state(deployment, qdrant, red))

    print(
        f"\n[drill] items compared: {sum(len(v) for v in expected.values())}"
        f"\n[drill] first backup, of the unseeded stack (creates both repositories):"
        f" {setup_seconds:.1f} s"
        f"\n[drill] tar of the three volumes: {tar_seconds:.1f} s; backup: {first_seconds:.1f} s;"
        f" ratio {first_seconds / tar_seconds:.2f} (goal <= 1.5)"
        f"\n[drill] repository after the first backup: {first_size} B; the second added"
        f" {second_added} B; ratio {second_added / first_size:.3f} (goal <= 0.1)"
        f"\n[drill] second backup: {second_seconds:.1f} s; what it added, by artefact:"
        + "".join(f"\n[drill]   {n}: {b} B ({b / first_size:.3f})" for n, b in by_file.items())
        + f"\n[drill]   trees and metadata: {second_added - sum(by_file.values())} B"
        f"\n[drill] rollback (with its safety backup): {rollback_seconds:.1f} s;"
        f" lost {lost}, changed {changed}"
        f"\n[drill] rollback from the off-host copy alone: {offsite_seconds:.1f} s;"
        f" lost {offsite_lost}, changed {offsite_changed}"
    )
    assert (lost, changed, offsite_lost, offsite_changed) == (0, 0, 0, 0)

"""manifest.json: what create writes, and what rollback verifies before it changes anything."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from infra.hosttools.backup import manifest, metrics

LINES = [
    "volume ora-dev-redis-data.tar ora-dev-redis-data redis-aof 1234",
    "volume ora-dev-app-data.tar ora-dev-app-data app -",
    "qdrant-version 1.12.0",
    'qdrant-aliases {"live":"docs"}',
    f"qdrant-snapshot qdrant-docs.snapshot docs 7 {'0' * 64}",
    "image app ora-dev-app-0 ora-app:1 sha256:aaa",
]


def tar_of(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


@pytest.fixture
def work(tmp_path) -> Path:
    tar_of(tmp_path / "ora-dev-redis-data.tar", {"appendonlydir/x.aof": b"*1\r\n"})
    tar_of(tmp_path / "ora-dev-app-data.tar", {"a": b"12345", "b/c": b"678"})
    (tmp_path / "qdrant-docs.snapshot").write_bytes(b"snapshot")
    return tmp_path


def test_the_manifest_lists_every_artefact_with_its_checksum(work):
    described = manifest.document(str(work), "b1", "dev", "host1", 9, LINES)
    total, tags = manifest.write(str(work), described)
    written = json.loads((work / "manifest.json").read_text())
    assert written == described
    assert (written["format"], written["name"], written["stack"], written["host"]) == (
        3, "b1", "dev", "host1"
    )  # fmt: skip
    assert written["time"].endswith("Z")
    redis, app, snapshot = written["artefacts"]
    data = (work / "ora-dev-redis-data.tar").read_bytes()
    assert redis["sha256"] == hashlib.sha256(data).hexdigest() and redis["bytes"] == len(data)
    assert "kept to 1234 bytes" in redis["consistency"]
    assert (app["files"], app["content_bytes"]) == (2, 8)
    assert (snapshot["collection"], snapshot["points"], snapshot["sha256"]) == ("docs", 7, "0" * 64)
    assert written["qdrant"] == {
        "version": "1.12.0",
        "collections": {"docs": 7},
        "aliases": {"live": "docs"},
    }
    assert written["images"] == [
        {
            "service": "app",
            "container": "ora-dev-app-0",
            "image": "ora-app:1",
            "image_id": "sha256:aaa",
        }
    ]
    assert total == sum(a["bytes"] for a in written["artefacts"])
    assert tags == [
        "qdrant_collections=1", "qdrant_points=7", "redis_keys=9", "app_files=2", "app_bytes=8"
    ]  # fmt: skip


def test_a_written_backup_verifies_into_the_rollback_plan(work):
    described = manifest.document(str(work), "b1", "dev", "h", 9, LINES)
    described["artefacts"][2]["sha256"] = hashlib.sha256(b"snapshot").hexdigest()
    manifest.write(str(work), described)
    log = io.StringIO()
    assert manifest.verify(str(work), "dev", log) == [
        ("volume", "ora-dev-redis-data.tar", "ora-dev-redis-data"),
        ("volume", "ora-dev-app-data.tar", "ora-dev-app-data"),
        ("qdrant-snapshot", "qdrant-docs.snapshot", "docs"),
    ]
    assert log.getvalue().count("verified ") == 3


def test_a_tampered_artefact_or_another_stack_does_not_verify(work):
    manifest.write(str(work), manifest.document(str(work), "b1", "dev", "h", 9, LINES))
    with (work / "ora-dev-redis-data.tar").open("ab") as tar:
        tar.write(b"\0" * 512)
    with pytest.raises(manifest.Invalid) as problems:
        manifest.verify(str(work), "prod", io.StringIO())
    message = str(problems.value)
    assert message.startswith("verification failed, nothing was changed:\n  ")
    assert "the manifest is of stack 'dev', not 'prod'" in message
    assert "ora-dev-redis-data.tar: sha256 or size does not match the manifest" in message


def test_a_failed_run_keeps_the_newest_successs_values():
    success = metrics.render("dev", "1", 1000, "50", "5", 3, {})
    failure = metrics.render("dev", "0", 2000, "0", "0", 4, metrics.previous_values(success))
    values = metrics.previous_values(failure)
    assert values['ora_backup_last_success_timestamp_seconds{stack="dev"}'] == "1000"
    assert values['ora_backup_last_size_bytes{stack="dev"}'] == "50"
    assert values['ora_backup_last_status{stack="dev"}'] == "0"
    assert values['ora_backup_last_duration_seconds{stack="dev"}'] == "4"
    assert "# TYPE ora_backup_last_status gauge\n" in failure


def test_the_metric_file_is_world_readable(tmp_path):
    path = tmp_path / "ora_backup.prom"
    metrics.write(str(path), "dev", "1", 1, "2", "3", 4)
    assert path.stat().st_mode & 0o777 == 0o644

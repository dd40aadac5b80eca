"""A rollback played against a fake docker and restic: a restore that fails halfway leaves
the containers it stopped stopped (named, with the way to recover, as the e2e drill in
tests/e2e/test_backup.py expects), and the retry it suggests starts them again."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from infra.hosttools.backup.runner import Result
from tests.hosttools.fakes import FakeRunner, host, main

NAME = "ora_backup_20250523_123456"
SAFETY = "pre-rollback-ora_backup_20250523_123456-20250601_000000"
CONSUMERS = ["ora-dev-app-0", "ora-dev-app-1", "ora-dev-worker"]


@pytest.fixture
def snapshot(tmp_path) -> Path:
    """What the restic snapshot NAME holds: two volume tars and their manifest."""
    directory = tmp_path / "snapshot"
    directory.mkdir()
    artefacts = []
    for volume in ("ora-dev-redis-data", "ora-dev-app-data"):
        path = directory / f"{volume}.tar"
        with tarfile.open(path, "w") as archive:
            archive.addfile(tarfile.TarInfo("x"), io.BytesIO(b""))
        data = path.read_bytes()
        artefacts.append(
            {
                "file": path.name, "kind": "volume", "volume": volume, "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )  # fmt: skip
    document = {"format": 3, "name": NAME, "stack": "dev", "artefacts": artefacts}
    (directory / "manifest.json").write_text(json.dumps(document))
    return directory


def play(snapshot: Path, failing_volume: str = ""):
    """restic and docker for a stack with app, worker and redis (no qdrant running)."""

    def answer(argv: list[str], options: dict) -> Result:
        words = " ".join(argv)
        if argv[:2] == ["restic", "snapshots"]:
            return Result(0, json.dumps([{"id": "0123456789abcdef", "time": "2025-05-23"}]))
        if argv[:2] == ["restic", "restore"]:
            shutil.copytree(snapshot, argv[argv.index("--target") + 1], dirs_exist_ok=True)
        if argv[:2] == ["docker", "ps"]:
            service = words.split("org.ora.service=")[1].split()[0]
            running = {"redis": "ora-dev-redis", "app": "\n".join(CONSUMERS[:2])}
            everything = {**running, "worker": CONSUMERS[2]}
            listed = everything if "--all" in argv else running
            return Result(0, listed.get(service, "") + "\n")
        if argv[:3] == ["docker", "inspect", "--format"]:
            return Result(0, "healthy\n" if "Health" in argv[3] else "sha256:redis-image\n")
        if argv[:2] == ["docker", "exec"]:
            return Result(0, "db0:keys=3,expires=0\r\n")
        if argv[:2] == ["docker", "run"] and "find" in argv:
            return Result(0, "10\n20\n")
        if argv[:2] == ["docker", "run"] and f"{failing_volume}:/v" in argv:
            return Result(1)
        return Result(0)

    return FakeRunner(answer)


@pytest.fixture
def env(tmp_path):
    env = host(tmp_path)
    staging = tmp_path / "staging"
    staging.mkdir()
    # An earlier rollback kept the state before it: no new safety backup is taken.
    (staging / "rollback.pending").write_text(SAFETY + "\n")
    return env


def test_a_failed_restore_names_what_it_stopped_and_how_to_recover(snapshot, env, capsys):
    runner = play(snapshot, failing_volume="ora-dev-app-data")
    assert main(env, runner, "rollback", NAME) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "backup.sh: error: restoring ora-dev-app-data failed\n" in err
    stopped = " ".join([*CONSUMERS, "ora-dev-redis"])
    assert f"backup.sh: FAILED with these containers of stack dev STOPPED: {stopped}\n" in err
    assert f"    backup.sh rollback {NAME}       (retry, once the cause is fixed)\n" in err
    assert f"    backup.sh rollback {SAFETY}     (back to where you were)\n" in err
    assert runner.ran("docker", "stop") == [
        ["docker", "stop", *CONSUMERS],
        ["docker", "stop", "ora-dev-redis"],
    ]
    assert runner.ran("docker", "start") == []
    assert (Path(env["ORA_BACKUP_STAGING"]) / "rollback" / NAME / "manifest.json").exists()


def test_the_retry_starts_what_the_failed_rollback_stopped(snapshot, env, capsys):
    assert main(env, play(snapshot, failing_volume="ora-dev-app-data"), "rollback", NAME) == 1
    capsys.readouterr()
    runner = play(snapshot)
    assert main(env, runner, "rollback", NAME) == 0
    out, err = capsys.readouterr()
    assert f"backup.sh: reusing the verified artefacts of {NAME}" in err
    assert "no new safety backup" in err
    assert runner.ran("restic", "restore") == []
    assert runner.ran("docker", "start") == [
        ["docker", "start", "ora-dev-redis"], ["docker", "start", *CONSUMERS]
    ]  # fmt: skip
    assert out.startswith(f"rolled back stack dev to backup {NAME} in ")
    assert out.endswith(
        f" s; restarted: {' '.join(CONSUMERS)} ora-dev-redis; the previous state is backup"
        f" {SAFETY}\n"
    )
    assert "before: 0 collections, 0 points; 3 redis keys; 2 files, 30 bytes of app data" in err
    staging = Path(env["ORA_BACKUP_STAGING"])
    assert not (staging / "rollback.pending").exists() and not (staging / "rollback").exists()


def test_an_unknown_backup_changes_nothing(snapshot, env, capsys):
    def answer(argv, options):
        return Result(0, "[]") if argv[:2] == ["restic", "snapshots"] else Result(0)

    runner = FakeRunner(answer)
    assert main(env, runner, "rollback", "no-such-backup") == 1
    assert "backup.sh: error: no backup named 'no-such-backup' for stack dev in" in (
        capsys.readouterr().err
    )
    assert runner.ran("docker", "stop") == [] and runner.ran("restic", "restore") == []

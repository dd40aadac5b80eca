"""A backup that cannot finish leaves no half snapshot and says so, with real restic on real
filesystems: restic killed mid-run, and a repository on a full disk (a small tmpfs). The
earlier backups stay intact and restorable. Run: pytest tests/e2e -k backup_failures"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.test_backup import (
    NAME_RE,
    SCRIPT,
    all_healthy,
    backup,
    host_environment,
    restic,
    snapshots,
    the_one_error,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.destructive,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

BIG = "e2e-big.bin"


def app_data(deployment, script: str) -> None:
    """A shell command on the app's data volume, in a helper container of the redis image."""
    image = deployment.client.containers.get(deployment.outputs["containers"]["redis"]).image.id
    args = ["docker", "run", "--rm", "--network", "none", "--user", "0:0"]
    args += ["-v", "ora-dev-app-data:/v", "--entrypoint", "sh", image, "-c", script]
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def big_file(deployment):
    """Adds new random bytes to the app's data (a callable), so that restic runs long enough
    to be killed; removed afterwards."""
    yield lambda: app_data(deployment, f"head -c 192M /dev/urandom > /v/{BIG}")
    app_data(deployment, f"rm -f /v/{BIG}")


def children(pid: int) -> list[int]:
    """Every descendant of `pid`, from each process's parent in /proc/PID/stat."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it has exited meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += sorted(frontier)
    return found


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:  # it has exited meanwhile
        return ""


def packs(repository: Path) -> set[Path]:
    return set((repository / "data").rglob("*")) if (repository / "data").exists() else set()


def intact(env, name: str, target: Path) -> None:
    """The backup `name` restores, and every artefact matches its manifest."""
    (snapshot,) = [s for s in snapshots(env) if f"name={name}" in s["tags"]]
    restic(env, "restore", snapshot["id"], "--target", str(target))
    manifest = json.loads((target / "manifest.json").read_text())
    for artefact in manifest["artefacts"]:
        data = (target / artefact["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == artefact["sha256"], artefact["file"]


def test_restic_killed_mid_run_leaves_no_snapshot_and_says_so(deployment, big_file, tmp_path):
    env = host_environment(tmp_path)
    all_healthy(deployment)
    first = backup(env, "create")
    assert first.returncode == 0, first.stderr
    before, written = snapshots(env), packs(Path(env["RESTIC_REPOSITORY"]))
    big_file()  # data the repository does not hold yet

    running = subprocess.Popen(
        ["bash", str(SCRIPT), "create"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        killed, deadline = None, time.monotonic() + 300
        while killed is None and running.poll() is None and time.monotonic() < deadline:
            ours = [p for p in children(running.pid) if command_of(p) == "restic"]
            # Mid-run: restic has stored new pack files, and not yet its snapshot.
            if ours and packs(Path(env["RESTIC_REPOSITORY"])) - written:
                os.kill(ours[-1], signal.SIGKILL)
                killed = ours[-1]
            time.sleep(0.02)
        out, err = running.communicate(timeout=300)
    finally:
        if running.poll() is None:
            running.kill()
            running.communicate()
    print(err)
    assert killed, "restic finished before it could be killed"
    assert running.returncode != 0
    assert "restic backup was interrupted (signal 9)" in err
    assert "no snapshot named" in err and "earlier backups are intact" in err
    assert out == ""
    assert snapshots(env) == before
    # restic's own check: the killed run's lock is gone, its packs are only unreferenced.
    checked = subprocess.run(["restic", "check"], env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    intact(env, first.stdout.strip(), tmp_path / "restored")
    # The repository takes the next backup (restic's lock of the killed run is stale).
    again = backup(env, "create")
    assert again.returncode == 0, again.stderr
    assert NAME_RE.match(again.stdout.strip())


def test_a_full_repository_disk_fails_clearly_and_keeps_the_earlier_backups(deployment, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], check=True)
    try:
        env = {**host_environment(tmp_path), "RESTIC_REPOSITORY": str(disk / "repo")}
        all_healthy(deployment)
        first = backup(env, "create")
        assert first.returncode == 0, first.stderr
        before = snapshots(env)
        app_data(deployment, f"head -c 96M /dev/urandom > /v/{BIG}")
        try:
            full = backup(env, "create")
        finally:
            app_data(deployment, f"rm -f /v/{BIG}")
        assert full.returncode == 1
        assert "no space left on device" in full.stderr
        error = the_one_error(full.stderr)
        assert f"the disk of the repository {disk}/repo is full" in error
        assert "no snapshot named" in error and "earlier backups are intact" in error
        assert full.stdout == ""
        assert snapshots(env) == before
        checked = subprocess.run(
            ["restic", "check", "--read-data"], env=env, capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        intact(env, first.stdout.strip(), tmp_path / "restored")
        # With the disk no longer overfilled, the next backup goes through.
        again = backup(env, "create")
        assert again.returncode == 0, again.stderr
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    all_healthy(deployment)

"""ora-cleanup (infra/hosttools/cleanup.py) on the e2e engine: it removes old images of the stack's
repositories and keeps what runs and what a rollback needs. Run: pytest tests/e2e -k cleanup"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import time

import pytest

from tests.e2e.conftest import REPO
from tests.e2e.realize import wait_healthy

pytestmark = [
    pytest.mark.e2e,
    # The session fixture's image builds leave an unclosed pipe behind (as in test_ops.py).
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
PROBES = 3


def tiny_rootfs(n: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        content = f"cleanup probe {n} {time.time_ns()}\n".encode()
        info = tarfile.TarInfo("probe")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def cleanup(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "infra.hosttools.cleanup", "--no-journal", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(f"\n$ ora-cleanup {' '.join(args)} -> {done.returncode}\n{done.stdout}{done.stderr}")
    return done


@pytest.fixture
def probes(deployment):
    """Older deployments of the app: images in its repository that no container runs."""
    client = deployment.client
    app = client.containers.get(deployment.outputs["containers"]["app"][0])
    repo = next(t for t in app.image.tags if t.startswith("ora-app:")).split(":", 1)[0]
    tags = []
    for n in range(PROBES):
        tag = f"{repo}:cleanup-probe-{n}"
        subprocess.run(
            ["docker", "import", "-", tag], input=tiny_rootfs(n), check=True, capture_output=True
        )
        tags.append(tag)
        time.sleep(1.1)  # distinct creation times, oldest first
    yield tags
    for tag in tags:
        subprocess.run(["docker", "image", "rm", tag], capture_output=True)


def present(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def test_cleanup_keeps_running_and_rollback_images_and_removes_older_ones(
    deployment, probes, tmp_path
):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("live\n")
    for name, age_days in (("app.log.1", 31), ("app.log.2.gz", 2)):
        path = logs / name
        path.write_text("rotated\n")
        old = time.time() - age_days * 86400
        os.utime(path, (old, old))
    running = {c.image.id for c in deployment.client.containers.list()}

    dry = cleanup("--dry-run", "--keep", "2", "--log-dir", str(logs))
    assert dry.returncode == 0
    assert all(present(tag) for tag in probes) and (logs / "app.log.1").exists()
    removals = [line for line in dry.stdout.splitlines() if line.startswith("remove  ")]
    assert [probe in " ".join(removals) for probe in probes] == [True, False, False], removals

    done = cleanup("--keep", "2", "--log-dir", str(logs))
    assert done.returncode == 0
    assert [present(tag) for tag in probes] == [False, True, True]
    assert sorted(p.name for p in logs.iterdir()) == ["app.log", "app.log.2.gz"]
    assert running <= {i.id for i in deployment.client.images.list()}
    for name in deployment.containers:
        wait_healthy(deployment.client, name, 60)

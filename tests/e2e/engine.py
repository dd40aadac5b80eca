"""A Docker engine for the e2e run: the one that answers, or one started (and stopped) here."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

DOCKERD = [
    "dockerd",
    "--iptables=false",
    "--ip-masq=false",
    "--bridge=none",
    "--storage-driver=overlay2",
]


def answers() -> bool:
    if not shutil.which("docker"):
        raise RuntimeError("the docker CLI is missing: apt-get install -y docker.io")
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def start(log_path: Path, timeout: float = 60) -> subprocess.Popen | None:
    """Returns the dockerd it started, or None when an engine already answered."""
    if answers():
        return None
    with log_path.open("ab") as log:  # dockerd keeps its own copy of the descriptor
        daemon = subprocess.Popen(DOCKERD, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while not answers():
        if daemon.poll() is not None or time.monotonic() > deadline:
            daemon.kill()
            raise RuntimeError(f"dockerd did not come up; see {log_path}")
        time.sleep(0.5)
    return daemon


def stop(daemon: subprocess.Popen | None) -> None:
    if daemon is None:
        return
    daemon.terminate()
    try:
        daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        daemon.kill()

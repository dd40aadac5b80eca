"""A restic job the backup stops (a run that failed while it ran) removes its repository
lock: real restic, holding its lock while it reads a backup from a stdin kept open."""

from __future__ import annotations

import os
import subprocess

from infra.hosttools.backup.runner import Runner, stop


def test_a_stopped_restic_leaves_no_lock(tmp_path):
    (tmp_path / "password").write_text("a-password-0123456789\n")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RESTIC_REPOSITORY": str(tmp_path / "repo"),
        "RESTIC_PASSWORD_FILE": str(tmp_path / "password"),
    }
    subprocess.run(["restic", "init", "--quiet"], env=env, check=True)
    locks = tmp_path / "repo" / "locks"
    job = Runner().start(
        ["restic", "backup", "--verbose", "--stdin"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        # restic says this once its lock is taken and registered for removal at exit.
        for line in job.stdout:
            if line == b"load index files\n":
                break
        else:
            raise AssertionError(f"restic ended early, with {job.wait()}")
        assert len(list(locks.iterdir())) == 1
        job.stdin.write(b"half a backup")
        job.stdin.flush()
        stop(job)
    finally:
        if job.poll() is None:
            job.kill()
        job.stdin.close()
        job.stdout.close()
    assert job.returncode != 0  # interrupted, not finished
    assert list(locks.iterdir()) == []
    done = subprocess.run(["restic", "snapshots", "--json"], env=env, capture_output=True)
    assert done.returncode == 0 and done.stdout.strip() in (b"[]", b"null")

"""An off-host s3: repository, for real: moto's S3 server (moto_server, the S3 REST API over
http on loopback) and backup.sh reading its credentials from backup.env, the file the Host
writes from the Pulumi secrets (infra.backup_units.s3_credentials), while it rotates that
repository's password (set-password). moto runs without signature checks: with them on,
it refuses restic's signed list requests (a moto limitation), so this proves the path and
the file, not that S3 refuses a wrong key."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra import backup_units

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "backup.sh"
OLD, NEW = "old-offsite-password-0123456789", "new-offsite-password-0123456789"
KEY_ID = "AKIAOFFSITETEST00001"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3(tmp_path):
    port = free_port()
    server_bin = Path(sys.executable).parent / "moto_server"
    with (tmp_path / "moto.log").open("w") as log:
        server = subprocess.Popen(
            [str(server_bin), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, (tmp_path / "moto.log").read_text()
            time.sleep(0.1)
        yield f"s3:http://127.0.0.1:{port}/ora-offsite/prod"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def host(s3, tmp_path):
    """A host whose s3: repository exists (password OLD); its credentials in backup.env."""
    secret = f"wJalr/XUtnF+EMI'K7 $(touch {tmp_path}/ran)"  # shell-hostile on purpose
    credentials = tmp_path / "backup.env"
    credentials.write_text(backup_units.s3_credentials(KEY_ID, secret))
    credentials.chmod(0o600)
    (tmp_path / "old").write_text(OLD)
    aws = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": secret}
    init = restic(s3, tmp_path / "old", aws, "init")
    assert init.returncode == 0, init.stderr
    (tmp_path / "password").write_text(OLD)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "ORA_BACKUP_SETTINGS": "/dev/null",
        "ORA_BACKUP_CREDENTIALS": str(credentials),
        "RESTIC_REPOSITORY": str(tmp_path / "local-repo"),
        "RESTIC_PASSWORD_FILE": str(tmp_path / "password"),
        "ORA_BACKUP_STAGING": str(tmp_path / "staging"),
        "ORA_BACKUP_OFFSITE_REPOSITORY": s3,
    }
    return env, aws, secret


def restic(repository, password_file, aws, *args):
    env = {"PATH": os.environ["PATH"], "RESTIC_PASSWORD_FILE": str(password_file), **aws}
    return subprocess.run(
        ["restic", "-r", repository, *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_credentials_file_opens_the_s3_repository(s3, host, tmp_path):
    env, aws, secret = host
    rotated = subprocess.run(
        [str(SCRIPT), "set-password"], input=NEW, env=env, capture_output=True, text=True
    )
    assert rotated.returncode == 0, rotated.stderr
    assert f"rotated the key of {s3}" in rotated.stderr
    (tmp_path / "new").write_text(NEW)
    assert restic(s3, tmp_path / "new", aws, "cat", "config").returncode == 0
    assert "wrong password" in restic(s3, tmp_path / "old", aws, "cat", "config").stderr
    assert not (tmp_path / "ran").exists()  # the file is data: sourcing it runs nothing
    assert secret not in rotated.stdout + rotated.stderr

"""backup.sh logs in to an sftp: off-host repository with its own key file and pinned host
keys (ORA_BACKUP_OFFSITE_SSH_KEY, ORA_BACKUP_OFFSITE_KNOWN_HOSTS), never with root's ssh
configuration; shown by rotating the repository's password (set-password) for real:
Debian's sshd on loopback, restic, no Docker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.scripts import sftp_server

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "backup.sh"
OLD, NEW = "old-offsite-password-0123456789", "new-offsite-password-0123456789"


@pytest.fixture
def sftp(tmp_path):
    with sftp_server.running(tmp_path) as server:
        yield server


def restic(server, password_file, *args):
    """restic as the test itself reaches the server (not through backup.sh)."""
    ssh = (
        f"ssh -i {server.client_key} -o IdentitiesOnly=yes -o BatchMode=yes"
        f" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
        f" -p {server.port} -l root 127.0.0.1 -s sftp"
    )
    return subprocess.run(
        ["restic", "-o", f"sftp.command={ssh}", "-r", server.url(f"{server.base}/repo"), *args],
        env={**os.environ, "RESTIC_PASSWORD_FILE": str(password_file)},
        capture_output=True,
        text=True,
    )


@pytest.fixture
def host(sftp, tmp_path):
    """A host whose off-host repository exists (password OLD); no ssh config at all."""
    old = tmp_path / "old-password"
    old.write_text(OLD)
    assert restic(sftp, old, "init").returncode == 0
    (tmp_path / "known_hosts").write_text(sftp.known_hosts)
    password = tmp_path / "restic-password"
    password.write_text(OLD)
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),  # an empty ~/.ssh: the key file is the only way in
        "ORA_BACKUP_SETTINGS": "/dev/null",
        "ORA_BACKUP_CREDENTIALS": "/dev/null",
        "RESTIC_REPOSITORY": str(tmp_path / "local-repo"),
        "RESTIC_PASSWORD_FILE": str(password),
        "ORA_BACKUP_STAGING": str(tmp_path / "staging"),
        "ORA_BACKUP_OFFSITE_REPOSITORY": sftp.url(f"{sftp.base}/repo"),
        "ORA_BACKUP_OFFSITE_SSH_KEY": str(sftp.client_key),
        "ORA_BACKUP_OFFSITE_KNOWN_HOSTS": str(tmp_path / "known_hosts"),
    }


def set_password(env, password):
    return subprocess.run(
        [str(SCRIPT), "set-password"], input=password, env=env, capture_output=True, text=True
    )


def test_the_key_file_rotates_the_offsite_password(sftp, host, tmp_path):
    rotated = set_password(host, NEW)
    assert rotated.returncode == 0, rotated.stderr
    assert "rotated the key of sftp://" in rotated.stderr
    new = tmp_path / "new-password"
    new.write_text(NEW)
    assert restic(sftp, new, "cat", "config").returncode == 0
    assert "wrong password" in restic(sftp, tmp_path / "old-password", "cat", "config").stderr
    assert Path(host["RESTIC_PASSWORD_FILE"]).read_text() == NEW


def test_without_the_key_file_nothing_changes(sftp, host, tmp_path):
    stranger = tmp_path / "stranger"
    sftp_server.keygen(stranger)
    refused = set_password({**host, "ORA_BACKUP_OFFSITE_SSH_KEY": str(stranger)}, NEW)
    assert refused.returncode == 1
    assert "cannot open the repository sftp://" in refused.stderr
    assert "nothing was changed" in refused.stderr
    assert Path(host["RESTIC_PASSWORD_FILE"]).read_text() == OLD
    assert restic(sftp, tmp_path / "old-password", "cat", "config").returncode == 0


def test_a_host_key_other_than_the_pinned_one_is_refused(sftp, host, tmp_path):
    impostor = tmp_path / "impostor"
    sftp_server.keygen(impostor)
    pinned = f"[127.0.0.1]:{sftp.port} {' '.join(Path(f'{impostor}.pub').read_text().split()[:2])}"
    Path(host["ORA_BACKUP_OFFSITE_KNOWN_HOSTS"]).write_text(pinned + "\n")
    refused = set_password(host, NEW)
    assert refused.returncode == 1
    assert "nothing was changed" in refused.stderr
    assert Path(host["RESTIC_PASSWORD_FILE"]).read_text() == OLD


def test_the_key_never_appears_in_the_output(sftp, host):
    rotated = set_password(host, NEW)
    secret_line = sftp.client_key.read_text().splitlines()[1]
    assert secret_line not in rotated.stderr + rotated.stdout

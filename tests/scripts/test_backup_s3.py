"""An off-host s3: repository, for real: moto's S3 server with its signature checks on (an
IAM user's access key, tests/scripts/s3_server.py), and backup.sh reading the credentials
from backup.env, the file the Host writes from the Pulumi secrets
(infra.backup_units.s3_credentials), while it rotates the repositories' password
(set-password). A wrong secret or an unknown key id is refused by the server, and
backup.sh says which Pulumi key to fix and changes nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from infra.bootstrap import backup_units
from tests.scripts import s3_server

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "backup.sh"
OLD, NEW = "old-offsite-password-0123456789", "new-offsite-password-0123456789"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with s3_server.running(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def offsite(s3, tmp_path):
    """This test's own s3: repository URL (one server for the module)."""
    return s3.url(tmp_path.name)


@pytest.fixture
def host(s3, offsite, tmp_path):
    """A host with a local and an s3: repository (password OLD), the credentials in
    backup.env; returns its environment and a function that rewrites backup.env."""
    credentials = tmp_path / "backup.env"

    def write_credentials(key_id: str, secret: str) -> None:
        credentials.write_text(backup_units.s3_credentials(key_id, secret))
        credentials.chmod(0o600)

    write_credentials(s3.access_key_id, s3.secret_access_key)
    (tmp_path / "old").write_text(OLD)
    (tmp_path / "new").write_text(NEW)
    (tmp_path / "password").write_text(OLD)
    for repository in (offsite, str(tmp_path / "local-repo")):
        init = restic(s3, repository, tmp_path / "old", "init")
        assert init.returncode == 0, init.stderr
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "ORA_BACKUP_SETTINGS": "/dev/null",
        "ORA_BACKUP_CREDENTIALS": str(credentials),
        "RESTIC_REPOSITORY": str(tmp_path / "local-repo"),
        "RESTIC_PASSWORD_FILE": str(tmp_path / "password"),
        "ORA_BACKUP_STAGING": str(tmp_path / "staging"),
        "ORA_BACKUP_OFFSITE_REPOSITORY": offsite,
    }
    return env, write_credentials


def restic(s3, repository, password_file, *args, secret=None):
    """restic as the test itself reaches a repository, with the IAM user's access key."""
    env = {
        "PATH": os.environ["PATH"],
        "RESTIC_PASSWORD_FILE": str(password_file),
        "AWS_ACCESS_KEY_ID": s3.access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret or s3.secret_access_key,
    }
    return subprocess.run(
        ["restic", "-r", repository, *args], env=env, capture_output=True, text=True, timeout=120
    )


def set_password(env, password):
    return subprocess.run(
        [str(SCRIPT), "set-password"], input=password, env=env, capture_output=True, text=True
    )


def opens_with(s3, tmp_path, repository) -> str:
    """Which password opens the repository: "old", "new" or "neither"."""
    for name in ("old", "new"):
        if restic(s3, repository, tmp_path / name, "cat", "config").returncode == 0:
            return name
    return "neither"


def test_the_server_refuses_a_wrong_secret(s3, offsite, host, tmp_path):
    refused = restic(s3, offsite, tmp_path / "old", "cat", "config", secret="wrong")
    assert refused.returncode == 1
    assert "The request signature we calculated does not match" in refused.stderr


def test_the_credentials_file_rotates_both_repositories(s3, offsite, host, tmp_path):
    env, _ = host
    rotated = set_password(env, NEW)
    assert rotated.returncode == 0, rotated.stderr
    assert f"rotated the key of {offsite}" in rotated.stderr
    assert f"rotated the key of {tmp_path / 'local-repo'}" in rotated.stderr
    assert opens_with(s3, tmp_path, offsite) == "new"
    assert opens_with(s3, tmp_path, str(tmp_path / "local-repo")) == "new"
    assert Path(env["RESTIC_PASSWORD_FILE"]).read_text() == NEW
    assert "wrong password" in restic(s3, offsite, tmp_path / "old", "cat", "config").stderr


def test_a_shell_hostile_secret_is_data(s3, host, tmp_path):
    """backup.env is sourced: a secret with quotes, spaces and $(...) runs nothing."""
    env, write_credentials = host
    write_credentials(s3.access_key_id, f"wJalr/XUtnF+EMI'K7 $(touch {tmp_path}/ran)")
    refused = set_password(env, NEW)
    assert refused.returncode == 1
    assert "SignatureDoesNotMatch" in refused.stderr
    assert not (tmp_path / "ran").exists()


CREDENTIALS = {
    "a wrong secret": ("right id", "wrong", "SignatureDoesNotMatch", "S3SecretAccessKey"),
    "an unknown key id": ("AKIAUNKNOWN000000000", "wrong", "InvalidAccessKeyId", "S3AccessKeyId"),
}


@pytest.mark.parametrize("case", list(CREDENTIALS))
def test_refused_credentials_change_nothing_and_name_the_key(s3, offsite, host, tmp_path, case):
    env, write_credentials = host
    key_id, secret, code, config_key = CREDENTIALS[case]
    write_credentials(s3.access_key_id if key_id == "right id" else key_id, secret)
    refused = set_password(env, NEW)
    assert refused.returncode == 1
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"backup.sh: error: the S3 server of {offsite} refused"), line
    assert f"({code}): ora:backupOffsite{config_key} = (secret, not shown)" in line
    assert f"Fix: pulumi config set --secret ora:backupOffsite{config_key} VALUE" in line
    assert "nothing was changed" in line
    assert secret not in refused.stdout + refused.stderr
    assert s3.secret_access_key not in refused.stdout + refused.stderr
    # Neither repository nor the file changed: the local one was not rotated first.
    assert Path(env["RESTIC_PASSWORD_FILE"]).read_text() == OLD
    assert opens_with(s3, tmp_path, str(tmp_path / "local-repo")) == "old"
    assert opens_with(s3, tmp_path, offsite) == "old"


def test_a_repository_not_there_yet_takes_the_new_password(s3, host, tmp_path):
    env, _ = host
    later = s3.url(f"{tmp_path.name}-later")
    rotated = set_password({**env, "ORA_BACKUP_OFFSITE_REPOSITORY": later}, NEW)
    assert rotated.returncode == 0, rotated.stderr
    assert f"no repository at {later} yet" in rotated.stderr
    assert opens_with(s3, tmp_path, str(tmp_path / "local-repo")) == "new"

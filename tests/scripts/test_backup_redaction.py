"""backup.sh names repositories in its messages, never a password in their URL: the
userinfo password (scheme://user:password@host) is shown as ***. Shown with set-password
against a rest: repository nobody answers on (real restic, no server, no Docker)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests import ports

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "backup.sh"
PASSWORD = "s3cret-rest-password"


@pytest.mark.parametrize("variable", ["RESTIC_REPOSITORY", "ORA_BACKUP_OFFSITE_REPOSITORY"])
def test_a_repository_url_is_printed_without_its_password(variable, tmp_path):
    url = f"rest:http://ora:{PASSWORD}@127.0.0.1:{ports.allocate()}/repo"
    (tmp_path / "password").write_text("old-password-0123456789")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "ORA_BACKUP_SETTINGS": "/dev/null",
        "ORA_BACKUP_CREDENTIALS": "/dev/null",
        "RESTIC_REPOSITORY": str(tmp_path / "local-repo"),
        "RESTIC_PASSWORD_FILE": str(tmp_path / "password"),
        "ORA_BACKUP_STAGING": str(tmp_path / "staging"),
        variable: url,
    }
    done = subprocess.run(
        [str(SCRIPT), "set-password"],
        input="new-password-0123456789",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0, done.stderr  # nothing answers there
    assert "cannot open the repository rest:http://ora:***@127.0.0.1:" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr

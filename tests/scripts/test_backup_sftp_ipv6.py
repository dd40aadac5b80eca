"""An off-host SFTP repository on an IPv6 host (sftp:USER@[ADDR]:/PATH), for real: Debian's
sshd on [::1] port 22 in a network namespace of the test's own (`unshare --net`, so the
fixed port is free), and backup.sh rotating that repository's password (set-password).
restic 0.14 cuts the short form at its first colon; backup.sh hands it the URL form."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from tests.scripts import sftp_server

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "backup.sh"
OLD, NEW = "old-offsite-password-0123456789", "new-offsite-password-0123456789"

# In the namespace: loopback up, sshd on [::1]:22, the repository created (password OLD)
# by restic as the test reaches it, then backup.sh with only the settings below.
NAMESPACE = """set -eu
ip link set lo up
/usr/sbin/sshd -D -e -f "$BASE/sshd_config" 2>"$BASE/sshd.log" &
trap 'kill $!' EXIT
for _ in $(seq 100); do ssh-keyscan -p 22 ::1 >/dev/null 2>&1 && break; sleep 0.1; done
ssh="ssh -i $BASE/client_key -o IdentitiesOnly=yes -o BatchMode=yes \
-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -l root ::1 -s sftp"
RESTIC_PASSWORD_FILE="$BASE/old" restic -o "sftp.command=$ssh" \
  -r "sftp://root@[::1]/$BASE/repo" init >/dev/null
printf %s "$NEW" | env -i PATH="$PATH" HOME="$BASE/home" ORA_BACKUP_SETTINGS=/dev/null \
  ORA_BACKUP_CREDENTIALS=/dev/null RESTIC_REPOSITORY="$BASE/local" \
  RESTIC_PASSWORD_FILE="$BASE/password" ORA_BACKUP_STAGING="$BASE/staging" \
  ORA_BACKUP_OFFSITE_REPOSITORY="$REPOSITORY" ORA_BACKUP_OFFSITE_SSH_KEY="$BASE/client_key" \
  ORA_BACKUP_OFFSITE_KNOWN_HOSTS="$BASE/known_hosts" "$SCRIPT" set-password
RESTIC_PASSWORD_FILE="$BASE/new" restic -o "sftp.command=$ssh" \
  -r "sftp://root@[::1]/$BASE/repo" cat config >/dev/null
echo "the new password opens the repository"
"""


@pytest.fixture
def base(tmp_path):
    for key in ("host_key", "client_key"):
        sftp_server.keygen(tmp_path / key)
    (tmp_path / "authorized_keys").write_text((tmp_path / "client_key.pub").read_text())
    config = sftp_server.SSHD_CONFIG.replace("ListenAddress 127.0.0.1", "ListenAddress ::1")
    (tmp_path / "sshd_config").write_text(config.format(port=22, base=tmp_path))
    host_key = (tmp_path / "host_key.pub").read_text().split()[:2]
    (tmp_path / "known_hosts").write_text(f"::1 {' '.join(host_key)}\n")
    (tmp_path / "old").write_text(OLD)
    (tmp_path / "new").write_text(NEW)
    (tmp_path / "password").write_text(OLD)
    (tmp_path / "home").mkdir()
    Path("/run/sshd").mkdir(exist_ok=True)
    return tmp_path


@pytest.mark.parametrize("form", ["sftp:root@[::1]:{base}/repo", "sftp://root@[::1]/{base}/repo"])
def test_an_ipv6_offsite_repository_is_reached(base, form):
    repository = form.format(base=base)
    env = {"BASE": str(base), "NEW": NEW, "REPOSITORY": repository, "SCRIPT": str(SCRIPT)}
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    done = subprocess.run(
        ["unshare", "--net", "bash", "-c", NAMESPACE], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr + (base / "sshd.log").read_text()
    assert "rotated the key of sftp://root@[::1]/" in done.stderr
    assert "the new password opens the repository" in done.stdout
    assert (base / "password").read_text() == NEW
    # restic 0.14 would have made a directory named after a piece of the address.
    assert not list(Path("/root").glob(":*")), shlex.join(["ls", "/root"])

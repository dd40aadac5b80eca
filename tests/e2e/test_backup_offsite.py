"""Off-host copies for real: every backup is copied (restic copy) into a repository on an
SFTP server this test runs (Debian's sshd on a loopback port, a throwaway key); the host is
then lost (stack, volumes, local repository) and a fresh stack comes back from that copy
alone. Run: pytest tests/e2e -k backup"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import sweep
from tests.e2e.test_backup import (
    NAME_RE,
    all_healthy,
    backup,
    found,
    host_environment,
    redis_cli,
    store,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.destructive,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

KEY = "ora:e2e:offsite"
DOC = f"the off-host canary {secrets.token_hex(4)}"
SSHD_CONFIG = """ListenAddress 127.0.0.1
Port {port}
HostKey {base}/host_key
AuthorizedKeysFile {base}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile {base}/sshd.pid
Subsystem sftp internal-sftp
"""
# restic runs `ssh HOST -s sftp`; the operator's way is root's ~/.ssh/config, the test's
# is its own config file, given to the real ssh by a wrapper first on PATH.
SSH_CONFIG = """Host ora-offsite
  HostName 127.0.0.1
  Port {port}
  User root
  IdentityFile {base}/client_key
  IdentitiesOnly yes
  StrictHostKeyChecking accept-new
  UserKnownHostsFile {base}/known_hosts
  BatchMode yes
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"sshd did not listen on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def sftp(tmp_path_factory):
    """(repository URL, PATH with the ssh wrapper) of a real SFTP server on loopback."""
    base = tmp_path_factory.mktemp("sftp")
    port = free_port()
    for key in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / key)], check=True
        )
    shutil.copy(base / "client_key.pub", base / "authorized_keys")
    (base / "sshd_config").write_text(SSHD_CONFIG.format(port=port, base=base))
    (base / "ssh_config").write_text(SSH_CONFIG.format(port=port, base=base))
    wrapper = base / "bin" / "ssh"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {base}/ssh_config "$@"\n')
    wrapper.chmod(0o755)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    server = subprocess.Popen(
        ["/usr/sbin/sshd", "-D", "-e", "-f", str(base / "sshd_config")],
        stderr=(base / "sshd.log").open("w"),
    )
    try:
        wait_port(port)
        yield f"sftp:ora-offsite:{base}/offsite-repo", f"{wrapper.parent}:{os.environ['PATH']}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> dict[str, str]:
    return host_environment(tmp_path_factory.mktemp("host"))


def test_a_lost_host_comes_back_from_the_offsite_copy_alone(deployment, sftp, local):
    repository, path = sftp
    all_healthy(deployment)
    assert redis_cli(deployment, "SET", KEY, "kept off-host") == "OK"
    store(deployment, DOC)
    host = {**local, "PATH": path, "ORA_BACKUP_OFFSITE_REPOSITORY": repository}
    created = backup(host, "create")
    assert created.returncode == 0, created.stderr
    assert "copied snapshot" in created.stderr
    name = created.stdout.strip()
    assert NAME_RE.match(name), name

    # The host is lost: every container and volume of the stack, the local repository.
    sweep(deployment.client, remove_images=False)
    shutil.rmtree(local["RESTIC_REPOSITORY"])
    shutil.rmtree(local["ORA_BACKUP_STAGING"])
    (deployment.workdir / "state.json").unlink(missing_ok=True)
    deployment.apply(deployment.workdir / "project-v1")
    all_healthy(deployment)
    assert redis_cli(deployment, "GET", KEY) == ""
    assert not found(deployment, DOC)

    fresh = {**local, "PATH": path, "RESTIC_REPOSITORY": repository}
    assert name in backup(fresh, "list").stdout.split()
    started = time.monotonic()
    restored = backup(fresh, "rollback", name)
    print(f"[backup] restore from the off-host copy alone: {time.monotonic() - started:.1f} s")
    assert restored.returncode == 0, restored.stderr
    all_healthy(deployment)
    assert redis_cli(deployment, "GET", KEY) == "kept off-host"
    assert found(deployment, DOC)

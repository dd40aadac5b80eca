"""CI's key as the bootstrap installs it (host_access.CI_KEY_OPTIONS) still deploys:
a real sshd on loopback, a throwaway user in the docker group, and the docker CLI over
ssh:// (what pulumi-docker does) against this machine's engine, read-only. Any other
command over that key is not run. In the e2e suite: it needs root (useradd) and the engine
the e2e session starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from infra.bootstrap import access as host_access
from tests.ports import allocate
from tests.scripts.listening import wait_listening
from tests.scripts.sftp_server import keygen

SSHD_CONFIG = """ListenAddress 127.0.0.1
Port {port}
HostKey {base}/host_key
AuthorizedKeysFile {base}/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile {base}/sshd.pid
"""


pytestmark = pytest.mark.e2e


@pytest.fixture
def deploy_host(docker_client):
    """(user, base, port): sshd admitting CI's key line, as the bootstrap writes it."""
    base = Path(tempfile.mkdtemp(prefix="ora-ci-key-"))
    base.chmod(0o755)  # sshd reads authorized_keys as the user
    user = f"ora-ci-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "-M", "-d", str(base), "-s", "/bin/sh", "-G", "docker", "-p", "*", user],
        check=True,
    )
    port = allocate()
    server = None
    try:
        keygen(base / "host_key")
        keygen(base / "client_key")
        public = (base / "client_key.pub").read_text().strip()
        line = f"{host_access.CI_KEY_OPTIONS} {public}\n"
        (base / "authorized_keys").write_text(line)
        (base / "sshd_config").write_text(SSHD_CONFIG.format(port=port, base=base))
        Path("/run/sshd").mkdir(exist_ok=True)
        with (base / "sshd.log").open("w") as log:
            server = subprocess.Popen(
                ["/usr/sbin/sshd", "-D", "-e", "-f", str(base / "sshd_config")], stderr=log
            )
        wait_listening(port, server, 10, lambda: (base / "sshd.log").read_text())
        yield user, base, port
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        subprocess.run(["userdel", user], check=False)
        shutil.rmtree(base, ignore_errors=True)


def client_env(base: Path) -> dict[str, str]:
    """PATH with an `ssh` that uses only the throwaway key and trusts the test's sshd."""
    bin_dir = base / "bin"
    bin_dir.mkdir(exist_ok=True)
    options = (
        f"-i {base / 'client_key'} -o IdentitiesOnly=yes -o IdentityAgent=none"
        " -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    )
    (bin_dir / "ssh").write_text(f'#!/bin/sh\nexec /usr/bin/ssh {options} "$@"\n')
    (bin_dir / "ssh").chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_docker_over_ssh_works_through_the_restricted_key(deploy_host):
    user, base, port = deploy_host
    env = {**client_env(base), "DOCKER_HOST": f"ssh://{user}@127.0.0.1:{port}"}
    ran = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0 and ran.stdout.strip(), ran.stderr + (base / "sshd.log").read_text()


def ssh(base: Path, user: str, port: int, *options: str) -> subprocess.CompletedProcess:
    """`ssh [options] user@host id`: the command the key asks for, never the one it gets."""
    command = ["ssh", "-T", "-p", str(port), *options, f"{user}@127.0.0.1", "id"]
    return subprocess.run(
        command, env=client_env(base), capture_output=True, text=True, timeout=30, input=""
    )


def test_the_restricted_key_runs_no_other_command(deploy_host):
    user, base, port = deploy_host
    ran = ssh(base, user, port)
    assert "uid=" not in ran.stdout, ran.stdout


def test_the_restricted_key_forwards_nothing(deploy_host):
    user, base, port = deploy_host
    ran = ssh(base, user, port, "-W", f"127.0.0.1:{port}")
    assert ran.returncode != 0 and "prohibited" in ran.stderr, ran.stderr

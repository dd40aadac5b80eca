"""Off-host copies for real: every backup is copied (restic copy) into a repository on an
SFTP server this test runs (Debian's sshd on a loopback port, a throwaway key given as
backup.sh's key file, its host key pinned); the host is
then lost (stack, volumes, local repository) and a fresh stack comes back from that copy
alone. Run: pytest tests/e2e -k backup"""

from __future__ import annotations

import secrets
import shutil
import time

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
from tests.scripts import sftp_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.destructive,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

KEY = "ora:e2e:offsite"
DOC = f"the off-host canary {secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def sftp(tmp_path_factory):
    """(repository URL, the host's settings for it) of a real SFTP server on loopback: the
    key file and pinned host key the bootstrap writes (no ssh configuration of root's)."""
    base = tmp_path_factory.mktemp("sftp")
    with sftp_server.running(base) as server:
        (base / "known_hosts").write_text(server.known_hosts)
        yield (
            server.url(f"{base}/offsite-repo"),
            {
                "ORA_BACKUP_OFFSITE_SSH_KEY": str(server.client_key),
                "ORA_BACKUP_OFFSITE_KNOWN_HOSTS": str(base / "known_hosts"),
            },
        )


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> dict[str, str]:
    return host_environment(tmp_path_factory.mktemp("host"))


def test_a_lost_host_comes_back_from_the_offsite_copy_alone(deployment, sftp, local):
    repository, login = sftp
    all_healthy(deployment)
    assert redis_cli(deployment, "SET", KEY, "kept off-host") == "OK"
    store(deployment, DOC)
    host = {**local, **login, "ORA_BACKUP_OFFSITE_REPOSITORY": repository}
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

    fresh = {**local, **login, "RESTIC_REPOSITORY": repository}
    assert name in backup(fresh, "list").stdout.split()
    started = time.monotonic()
    restored = backup(fresh, "rollback", name)
    print(f"[backup] restore from the off-host copy alone: {time.monotonic() - started:.1f} s")
    assert restored.returncode == 0, restored.stderr
    all_healthy(deployment)
    assert redis_cli(deployment, "GET", KEY) == "kept off-host"
    assert found(deployment, DOC)

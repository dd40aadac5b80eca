"""scripts/backup.sh against the dev stack on a real engine: create, list, the manifest's
checksums, rollback (data back, containers healthy, a safety backup kept), refusals that
change nothing (unknown name, tampered artefact), prune. Run: pytest tests/e2e -k backup"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from infra.redis import CLI_AUTH
from tests.e2e.conftest import REPO
from tests.e2e.realize import wait_healthy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.destructive,
    # The session's stand-in build (docker-py) leaves file handles for the GC to close.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SCRIPT = REPO / "scripts" / "backup.sh"
KEY = "ora:e2e:backup"
BEFORE_DOC = f"the backup canary before {secrets.token_hex(4)}"
AFTER_DOC = f"the backup canary after {secrets.token_hex(4)}"
NAME_RE = re.compile(r"^\d{8}T\d{6}Z$")
VOLUMES = {"ora-dev-redis-data", "ora-dev-qdrant-data", "ora-dev-app-data"}


def all_healthy(deployment, timeout: float = 120) -> None:
    for name in deployment.containers:
        wait_healthy(deployment.client, name, timeout)


def redis_cli(deployment, *args: str) -> str:
    container = deployment.client.containers.get(deployment.outputs["containers"]["redis"])
    # The password comes from the container's secret file (infra/redis.py).
    result = container.exec_run(["sh", "-c", f'{CLI_AUTH} exec redis-cli "$@"', "redis-cli", *args])
    assert result.exit_code == 0, result.output
    return result.output.decode().strip()


def http(deployment) -> httpx.Client:
    headers = {"Authorization": f"Bearer {deployment.outputs['devApiKey']}"}
    return httpx.Client(verify=False, timeout=10, headers=headers)  # noqa: S501 - self-signed


def store(deployment, text: str) -> None:
    with http(deployment) as client:
        response = client.post(deployment.outputs["url"] + "/api/v1/documents", json={"text": text})
    assert response.status_code == 201, response.text


def found(deployment, text: str) -> bool:
    with http(deployment) as client:
        response = client.get(deployment.outputs["url"] + "/api/v1/search", params={"q": text})
    assert response.status_code == 200, response.text
    return text in [hit["text"] for hit in response.json()["results"]]


def started_at(deployment) -> dict[str, str]:
    return {
        name: deployment.client.api.inspect_container(name)["State"]["StartedAt"]
        for name in deployment.containers
    }


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("backup")
    password = base / "restic-password"
    password.write_text(secrets.token_urlsafe(32) + "\n")
    password.chmod(0o600)
    return {
        **os.environ,
        "ORA_STACK": "dev",
        "RESTIC_REPOSITORY": str(base / "repo"),
        "RESTIC_PASSWORD_FILE": str(password),
        "ORA_BACKUP_STAGING": str(base / "staging"),
    }


def backup(env, *args: str) -> subprocess.CompletedProcess:
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=600
    )
    print(
        f"\n$ backup.sh {' '.join(args)} -> {result.returncode} in "
        f"{time.monotonic() - started:.1f} s\n{result.stdout}{result.stderr}"
    )
    return result


def restic(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["restic", *args], env=env, capture_output=True, text=True, check=True)


def snapshots(env) -> list[dict]:
    return json.loads(restic(env, "snapshots", "--json").stdout) or []


@pytest.fixture(scope="module")
def created(deployment, env) -> str:
    """One backup of a known state: the Redis key `before` and a stored document."""
    all_healthy(deployment)
    assert redis_cli(deployment, "SET", KEY, "before") == "OK"
    store(deployment, BEFORE_DOC)
    result = backup(env, "create")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_shellcheck_clean():
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_create_prints_a_name_that_list_shows(created, env):
    assert NAME_RE.match(created), created
    listed = backup(env, "list")
    assert listed.returncode == 0, listed.stderr
    assert created in listed.stdout.split()


def test_manifest_lists_three_artefacts_whose_sha256_match(created, env, tmp_path):
    (snapshot,) = [s for s in snapshots(env) if f"name={created}" in s["tags"]]
    assert {"ora", "stack=dev"} <= set(snapshot["tags"])
    restic(env, "restore", snapshot["id"], "--target", str(tmp_path))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert (manifest["name"], manifest["stack"]) == (created, "dev")
    assert {a["volume"] for a in manifest["artefacts"]} == VOLUMES
    for artefact in manifest["artefacts"]:
        data = (tmp_path / artefact["file"]).read_bytes()
        assert len(data) == artefact["bytes"] > 0
        assert hashlib.sha256(data).hexdigest() == artefact["sha256"]
    qdrant = next(a for a in manifest["artefacts"] if a["volume"] == "ora-dev-qdrant-data")
    assert "crash-consistent" in qdrant["consistency"]
    assert {i["service"] for i in manifest["images"]} >= {"redis", "qdrant", "app", "worker"}
    assert manifest["host"] and manifest["time"].endswith("Z")


def test_create_refuses_a_taken_or_bad_name(created, env):
    taken = backup(env, "create", created)
    assert taken.returncode != 0 and "already exists" in taken.stderr
    bad = backup(env, "create", "../etc")
    assert bad.returncode != 0 and "must match" in bad.stderr


def test_missing_password_file_is_named(env, tmp_path):
    missing = str(tmp_path / "nope")
    result = backup({**env, "RESTIC_PASSWORD_FILE": missing}, "list")
    assert result.returncode != 0 and missing in result.stderr and "password file" in result.stderr


def test_missing_docker_is_named(env, tmp_path):
    """PATH with every tool of the host but docker."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        for tool in Path(directory).iterdir():
            if tool.name != "docker" and not (bin_dir / tool.name).exists():
                (bin_dir / tool.name).symlink_to(tool)
    result = backup({**env, "PATH": str(bin_dir)}, "list")
    assert result.returncode != 0 and "'docker' is not installed" in result.stderr


def test_rollback_of_an_unknown_name_fails_and_changes_nothing(deployment, created, env):
    all_healthy(deployment)
    before, count = started_at(deployment), len(snapshots(env))
    result = backup(env, "rollback", "no-such-backup")
    assert result.returncode != 0
    assert "no backup named 'no-such-backup'" in result.stderr
    assert started_at(deployment) == before
    assert len(snapshots(env)) == count


def test_rollback_refuses_a_tampered_artefact(deployment, created, env, tmp_path):
    """A snapshot whose artefact no longer matches its manifest: verified before anything."""
    (snapshot,) = [s for s in snapshots(env) if f"name={created}" in s["tags"]]
    restic(env, "restore", snapshot["id"], "--target", str(tmp_path))
    with (tmp_path / "ora-dev-redis-data.tar").open("ab") as tar:
        tar.write(b"\0" * 512)
    tags = ["--tag", "ora", "--tag", "stack=dev", "--tag", "name=tampered"]
    subprocess.run(
        ["restic", "backup", "--quiet", *tags, "."],
        cwd=tmp_path,
        env=env,
        check=True,
    )
    all_healthy(deployment)
    before, count = started_at(deployment), len(snapshots(env))
    result = backup(env, "rollback", "tampered")
    assert result.returncode != 0
    assert "ora-dev-redis-data.tar: sha256 or size does not match" in result.stderr
    assert "nothing was changed" in result.stderr
    assert started_at(deployment) == before
    assert len(snapshots(env)) == count  # no safety backup either: nothing was touched


def test_rollback_restores_the_data(deployment, created, env):
    all_healthy(deployment)
    assert redis_cli(deployment, "SET", KEY, "after") == "OK"
    store(deployment, AFTER_DOC)
    assert found(deployment, AFTER_DOC)
    result = backup(env, "rollback", created)
    assert result.returncode == 0, result.stderr
    assert f"rolled back stack dev to backup {created}" in result.stdout
    all_healthy(deployment, 120)
    assert redis_cli(deployment, "GET", KEY) == "before"
    assert found(deployment, BEFORE_DOC)
    assert not found(deployment, AFTER_DOC)


def test_the_safety_backup_exists_after_a_rollback(created, env):
    listed = backup(env, "list").stdout.split()
    safety = [n for n in listed if n.startswith(f"pre-rollback-{created}-")]
    assert len(safety) == 1, listed
    dumped = restic(env, "snapshots", "--tag", f"ora,stack=dev,name={safety[0]}", "--json")
    (snapshot,) = json.loads(dumped.stdout)
    manifest = json.loads(restic(env, "dump", snapshot["id"], "manifest.json").stdout)
    assert manifest["name"] == safety[0]
    assert {a["volume"] for a in manifest["artefacts"]} == VOLUMES


def test_prune_keeps_the_fresh_backups(deployment, created, env):
    result = backup(env, "prune")
    assert result.returncode == 0, result.stderr
    listed = backup(env, "list").stdout.split()
    assert created in listed
    assert any(n.startswith(f"pre-rollback-{created}-") for n in listed)
    all_healthy(deployment)


def test_no_helper_container_is_left(deployment):
    left = deployment.client.containers.list(all=True, filters={"label": "org.ora.backup-helper"})
    assert left == []


def test_script_finds_containers_by_label_only():
    text = Path(SCRIPT).read_text()
    assert "label=org.ora.stack=" in text and "label=org.ora.service=" in text
    assert not re.search(r"docker (exec|stop|start)[^\n]*ora-\$", text)

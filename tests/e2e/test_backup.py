"""scripts/backup.sh against the dev stack on a real engine: create, list, the manifest's
checksums and counts, Qdrant snapshots through its API, rollback (data back, containers
healthy, a safety backup kept), a failed rollback and its recovery, refusals that change
nothing (unknown name, tampered artefact, a held lock), the metric, key rotation, prune.
Run: pytest tests/e2e -k backup"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import stat
import subprocess
import tarfile
import time
from pathlib import Path

import httpx
import pytest

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
NAME_RE = re.compile(r"^ora_backup_\d{8}_\d{6}$")
VOLUMES = {"ora-dev-redis-data", "ora-dev-app-data"}
OLD_STYLE_NAME = "20261128T123456Z"  # the names backup.sh gave before ora_backup_*
METRICS = (
    "ora_backup_last_success_timestamp_seconds",
    "ora_backup_last_size_bytes",
    "ora_backup_last_duration_seconds",
    "ora_backup_last_status",
)
# The password from the secret file when there is one, else REDISCLI_AUTH (the env).
REDIS_AUTH = (
    "[ -r /run/secrets/redis-password ] && "
    'REDISCLI_AUTH="$(cat /run/secrets/redis-password)" && export REDISCLI_AUTH; '
    'exec redis-cli "$@"'
)


def all_healthy(deployment, timeout: float = 120) -> None:
    for name in deployment.containers:
        wait_healthy(deployment.client, name, timeout)


def redis_cli(deployment, *args: str) -> str:
    container = deployment.client.containers.get(deployment.outputs["containers"]["redis"])
    result = container.exec_run(["sh", "-c", REDIS_AUTH, "redis-cli", *args])
    assert result.exit_code == 0, result.output
    return result.output.decode().strip()


def http(deployment) -> httpx.Client:
    """The dev stack's generated API client (every scope)."""
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
    return host_environment(tmp_path_factory.mktemp("backup"))


def host_environment(base: Path) -> dict[str, str]:
    """What the host's unit gives ora-backup: a repository and its password, under `base`."""
    password = base / "restic-password"
    password.write_text(secrets.token_urlsafe(32) + "\n")
    password.chmod(0o600)
    return {
        **os.environ,
        "ORA_STACK": "dev",
        "RESTIC_REPOSITORY": str(base / "repo"),
        "RESTIC_PASSWORD_FILE": str(password),
        "ORA_BACKUP_STAGING": str(base / "staging"),
        "ORA_BACKUP_TEXTFILE_DIR": str(base / "textfile"),
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


def the_one_error(stderr: str) -> str:
    """A failed run's single error line: no ERR-trap echo of a command whose failure was
    already reported, no Python traceback, no shell write error."""
    errors = [line for line in stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, stderr
    for noise in ("command failed (line", "Traceback", "write error"):
        assert noise not in stderr, stderr
    return errors[0]


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


def test_list_shows_the_counts(created, env):
    listed = backup(env, "list").stdout.splitlines()
    header = listed[0].split("  ")
    assert "POINTS" in listed[0] and "REDIS KEYS" in listed[0] and "APP FILES" in listed[0], header
    (row,) = [line for line in listed if line.startswith(created)]
    assert re.search(r"  1 +[1-9]\d* +[1-9]\d* ", row), row  # 1 collection, its points, keys


def test_manifest_lists_artefacts_whose_sha256_match(created, env, tmp_path):
    (snapshot,) = [s for s in snapshots(env) if f"name={created}" in s["tags"]]
    assert {"ora", "stack=dev"} <= set(snapshot["tags"])
    restic(env, "restore", snapshot["id"], "--target", str(tmp_path))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert (manifest["name"], manifest["stack"], manifest["format"]) == (created, "dev", 3)
    volumes = [a for a in manifest["artefacts"] if a["kind"] == "volume"]
    assert {a["volume"] for a in volumes} == VOLUMES
    for artefact in manifest["artefacts"]:
        data = (tmp_path / artefact["file"]).read_bytes()
        assert len(data) == artefact["bytes"] > 0
        assert hashlib.sha256(data).hexdigest() == artefact["sha256"]
    assert {i["service"] for i in manifest["images"]} >= {"redis", "qdrant", "app", "worker"}
    assert manifest["host"] and manifest["time"].endswith("Z")


def test_redis_is_backed_up_as_the_files_its_aof_manifest_names(created, env, tmp_path):
    (snapshot,) = [s for s in snapshots(env) if f"name={created}" in s["tags"]]
    restic(env, "restore", snapshot["id"], "--target", str(tmp_path))
    with tarfile.open(tmp_path / "ora-dev-redis-data.tar") as archive:
        names = [m.name for m in archive]
        manifest = archive.extractfile(names[1]).read().decode()
    named = [line.split()[1] for line in manifest.splitlines() if line.split()[-1] in "bi"]
    assert names[:2] == ["appendonlydir", "appendonlydir/appendonly.aof.manifest"]
    assert names[2:] == [f"appendonlydir/{n}" for n in named]
    assert named[0].endswith(".base.rdb") and named[-1].endswith(".incr.aof")


def test_qdrant_is_backed_up_through_its_snapshot_api(created, env, tmp_path):
    (snapshot,) = [s for s in snapshots(env) if f"name={created}" in s["tags"]]
    restic(env, "restore", snapshot["id"], "--target", str(tmp_path))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    snaps = [a for a in manifest["artefacts"] if a["kind"] == "qdrant-snapshot"]
    assert snaps and all(a["file"].endswith(".snapshot") for a in snaps)
    assert manifest["qdrant"]["version"].startswith("1.")
    assert manifest["qdrant"]["collections"] == {a["collection"]: a["points"] for a in snaps}
    counts = manifest["counts"]
    assert counts["qdrant_collections"] == len(snaps)
    assert counts["qdrant_points"] >= 1 and counts["redis_keys"] >= 1
    assert {"app_files", "app_bytes"} <= set(counts)


def test_the_metric_is_written_for_node_exporter(created, env):
    """In a directory the script created, both readable by node-exporter's unprivileged user."""
    directory = Path(env["ORA_BACKUP_TEXTFILE_DIR"])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o755
    assert stat.S_IMODE((directory / "ora_backup.prom").stat().st_mode) == 0o644
    text = (directory / "ora_backup.prom").read_text()
    for metric in METRICS:
        assert re.search(rf'^{metric}{{stack="dev"}} \d', text, re.M), text
    assert 'ora_backup_last_status{stack="dev"} 1' in text
    linted = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def metric_values(env) -> dict[str, str]:
    text = (Path(env["ORA_BACKUP_TEXTFILE_DIR"]) / "ora_backup.prom").read_text()
    return dict(
        line.split("{", 1)[0:1] + line.rsplit(" ", 1)[1:]
        for line in text.splitlines()
        if line[0] != "#"
    )


def test_create_refuses_a_taken_or_bad_name(created, env):
    succeeded = metric_values(env)["ora_backup_last_success_timestamp_seconds"]
    taken = backup(env, "create", created)
    assert taken.returncode != 0 and "already exists" in taken.stderr
    bad = backup(env, "create", "../etc")
    assert bad.returncode != 0 and "must match" in bad.stderr
    # A failed run shows in the metric; the newest success stays what it was.
    values = metric_values(env)
    assert values["ora_backup_last_status"] == "0"
    assert values["ora_backup_last_success_timestamp_seconds"] == succeeded


def test_the_lock_holds_against_a_concurrent_create(deployment, created, env):
    all_healthy(deployment)
    staging = Path(env["ORA_BACKUP_STAGING"])
    first = subprocess.Popen(
        ["bash", str(SCRIPT), "create"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (staging / "create").exists():  # created while the first holds the lock
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    second = backup(env, "create")
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert second.returncode != 0 and "another backup.sh holds" in second.stderr


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


def test_a_full_staging_disk_stores_no_backup_and_says_so(deployment, created, env, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(full)], check=True)
    try:
        count = len(snapshots(env))
        result = backup({**env, "ORA_BACKUP_STAGING": str(full)}, "create")
        assert result.returncode == 1
        error = the_one_error(result.stderr)
        assert "disk full?" in error and "no backup was stored" in error
        assert len(snapshots(env)) == count
        assert not (full / "create").exists()
    finally:
        subprocess.run(["umount", str(full)], check=True)
    all_healthy(deployment)


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
    assert re.search(r"before: 1 collections, \d+ points; \d+ redis keys; \d+ files", result.stderr)
    assert re.search(r"after: 1 collections, \d+ points; \d+ redis keys; \d+ files", result.stderr)
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
    assert {a["volume"] for a in manifest["artefacts"] if a["kind"] == "volume"} == VOLUMES


def test_a_failed_rollback_is_recovered_from_that_state(deployment, env):
    """A restore fails halfway (app data emptied, Redis stopped): the hint it prints works."""
    all_healthy(deployment)
    assert redis_cli(deployment, "SET", KEY, "old-style") == "OK"
    assert backup(env, "create", OLD_STYLE_NAME).returncode == 0
    assert redis_cli(deployment, "SET", KEY, "mid") == "OK"
    count = len(snapshots(env))
    fault = {**env, "ORA_BACKUP_FAILPOINT": "restore:ora-dev-app-data"}
    failed = backup(fault, "rollback", OLD_STYLE_NAME)
    assert failed.returncode != 0
    redis = deployment.outputs["containers"]["redis"]
    assert "STOPPED" in failed.stderr and redis in failed.stderr
    assert deployment.client.containers.get(redis).status != "running"
    (safety,) = set(re.findall(r"rollback (pre-rollback-\S+)", failed.stderr))
    staged = Path(env["ORA_BACKUP_STAGING"]) / "rollback" / OLD_STYLE_NAME / "manifest.json"
    assert staged.exists()  # kept for a retry
    assert len(snapshots(env)) == count + 1  # the safety backup
    recovered = backup(env, "rollback", safety)
    assert recovered.returncode == 0, recovered.stderr
    assert "no new safety backup" in recovered.stderr
    assert len(snapshots(env)) == count + 1
    all_healthy(deployment)
    assert redis_cli(deployment, "GET", KEY) == "mid"


def test_the_old_style_name_rolls_back(deployment, env):
    result = backup(env, "rollback", OLD_STYLE_NAME)
    assert result.returncode == 0, result.stderr
    all_healthy(deployment)
    assert redis_cli(deployment, "GET", KEY) == "old-style"


def format1_backup(deployment, env, directory: Path, name: str) -> None:
    """A backup as backup.sh wrote them before format 2: every volume as a tar (Redis with
    its AOF, Qdrant's storage) and a manifest without kinds."""
    image = deployment.client.containers.get(deployment.outputs["containers"]["redis"]).image.id
    artefacts = []
    for volume in ("ora-dev-redis-data", "ora-dev-qdrant-data", "ora-dev-app-data"):
        # Attached, not through the log driver (which would mangle binary data).
        args = ["docker", "run", "--rm", "--network", "none", "--user", "0:0", "-v"]
        args += [f"{volume}:/v:ro", "--entrypoint", "tar", image, "-C", "/v", "-cf", "-", "."]
        data = subprocess.run(args, capture_output=True, check=True).stdout
        (directory / f"{volume}.tar").write_bytes(data)
        artefacts.append(
            {
                "file": f"{volume}.tar",
                "volume": volume,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "format": "tar",
            }
        )
    manifest = {
        "format": 1,
        "name": name,
        "stack": "dev",
        "time": "2026-11-28T12:34:56Z",
        "host": "old",
        "artefacts": artefacts,
        "images": [],
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    tags = ["--tag", "ora", "--tag", "stack=dev", "--tag", f"name={name}"]
    subprocess.run(["restic", "backup", "--quiet", *tags, "."], cwd=directory, env=env, check=True)


def test_a_format_1_backup_still_rolls_back(deployment, env, tmp_path):
    all_healthy(deployment)
    assert redis_cli(deployment, "SET", KEY, "format 1") == "OK"
    redis_cli(deployment, "BGREWRITEAOF")
    time.sleep(2)
    format1_backup(deployment, env, tmp_path, "20250101T000000Z")
    assert redis_cli(deployment, "SET", KEY, "format 2") == "OK"
    result = backup(env, "rollback", "20250101T000000Z")
    assert result.returncode == 0, result.stderr
    all_healthy(deployment)
    assert redis_cli(deployment, "GET", KEY) == "format 1"
    assert found(deployment, BEFORE_DOC)


def test_offsite_copy_restores_alone(deployment, env, tmp_path):
    """Every backup is copied to the second repository; a rollback from it alone works."""
    offsite = {**env, "ORA_BACKUP_OFFSITE_REPOSITORY": str(tmp_path / "offsite")}
    all_healthy(deployment)
    assert redis_cli(deployment, "SET", KEY, "offsite") == "OK"
    name = backup(offsite, "create").stdout.strip()
    assert NAME_RE.match(name), name
    assert redis_cli(deployment, "SET", KEY, "later") == "OK"
    only = {**env, "RESTIC_REPOSITORY": str(tmp_path / "offsite")}
    assert backup(only, "list").stdout.split().count(name) == 1
    result = backup(only, "rollback", name)
    assert result.returncode == 0, result.stderr
    all_healthy(deployment)
    assert redis_cli(deployment, "GET", KEY) == "offsite"


def test_set_password_rotates_the_repository_key(env, tmp_path):
    current = Path(env["RESTIC_PASSWORD_FILE"])
    old = tmp_path / "old-password"
    old.write_text(current.read_text())
    new = secrets.token_urlsafe(32) + "\n"
    result = subprocess.run(
        ["bash", str(SCRIPT), "set-password"], input=new, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "rotated the key" in result.stderr
    assert current.read_text() == new
    assert backup(env, "list").returncode == 0
    opened = subprocess.run(
        ["restic", "cat", "config"],
        env={**env, "RESTIC_PASSWORD_FILE": str(old)},
        capture_output=True,
    )
    assert opened.returncode != 0  # the old key is gone


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

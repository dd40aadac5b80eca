"""Secrets reach services as 0400 files on a read-only volume, never as environment values."""

import hashlib
import os
import subprocess

import pytest

from infra.targets.host import oneshot, secret_files
from tests.unit import program

PROD = program.evaluate("prod")
DEV = program.evaluate("dev", secrets={})
GENERATED = "generated-" + "x" * 30  # what the mocked pulumi-random returns
# service -> the secrets volume it reads; nginx reads none (its key is an upload).
SECRETS_VOLUME = {
    "redis": "redis-secrets",
    "qdrant": "qdrant-secrets",
    "app": "app-secrets",
    "worker": "app-secrets",
}
SECRET_VALUES = {"prod": list(program.PROD_SECRETS.values()), "dev": [GENERATED]}


def graphs():
    return [("prod", PROD), ("dev", DEV)]


def mounts(container, path):
    return [v for v in container.plain("volumes") or [] if v["containerPath"] == path]


@pytest.mark.parametrize(("stack", "graph"), graphs())
def test_no_container_environment_holds_a_secret(stack, graph):
    for c in graph.containers:
        for entry in c.inputs.get("envs") or []:
            assert not program.is_secret(entry), f"{c.name}: a secret environment value"
        envs = c.plain("envs") or []
        for value in SECRET_VALUES[stack]:
            needle = value.strip().splitlines()[-1]
            assert not program.contains(envs, needle), f"{c.name} env holds a secret"


@pytest.mark.parametrize("service", sorted(SECRETS_VOLUME))
def test_each_service_reads_its_own_secrets_volume_read_only(service):
    container = PROD.container(service)
    mounted = mounts(container, secret_files.MOUNT)
    assert mounted == [
        {
            "volumeName": f"ora-prod-{SECRETS_VOLUME[service]}",
            "containerPath": secret_files.MOUNT,
            "readOnly": True,
        }
    ], container.name


def test_nginx_mounts_no_secrets_volume():
    assert not mounts(PROD.container("nginx"), secret_files.MOUNT)


@pytest.mark.parametrize("service", ["redis", "qdrant", "app"])
def test_a_writer_fills_each_secrets_volume(service):
    writer = PROD.container(f"{service}-secrets")
    assert [v["volumeName"] for v in writer.plain("volumes")] == [f"ora-prod-{service}-secrets"]
    assert program.is_secret(writer.inputs["uploads"]), f"{writer.name}: uploads not secret"


@pytest.mark.parametrize("writer", PROD.writers, ids=lambda w: w.name)
class TestWriter:
    def test_has_no_network_and_publishes_nothing(self, writer):
        assert writer.plain("networkMode") == "none"
        assert not writer.plain("ports") and not writer.plain("networksAdvanced")

    def test_may_only_chown(self, writer):
        assert writer.plain("capabilities") == {"drops": ["ALL"], "adds": ["CHOWN"]}
        assert "no-new-privileges:true" in writer.plain("securityOpts")

    def test_runs_once_and_is_waited_for(self, writer):
        assert writer.plain("attach") is True and writer.plain("logs") is True
        assert writer.plain("mustRun") is False
        assert writer.plain("restart") == "no"

    def test_is_bounded_and_rotates_logs(self, writer):
        assert writer.plain("memory") == oneshot.MEMORY_MB
        assert writer.plain("logOpts") == {"max-size": "1m", "max-file": "3"}

    def test_script_is_valid_shell(self, writer):
        script = writer.plain("command")[0]
        assert writer.plain("entrypoints") == ["sh", "-c"]
        subprocess.run(["sh", "-n", "-c", script], check=True)


def test_app_reads_every_secret_through_a_file_variable():
    envs = PROD.container("app").plain("envs")
    files = {e.split("=", 1)[0]: e.split("=", 1)[1] for e in envs if "_FILE=" in e}
    assert files == {
        "REDIS_PASSWORD_FILE": "/run/secrets/redis-password",
        "QDRANT_API_KEY_FILE": "/run/secrets/qdrant-api-key",
        "SECRET_KEY_FILE": "/run/secrets/secret-key",
        "API_KEYS_FILE": "/run/secrets/api-keys",
    }


def test_the_smtp_password_is_alertmanagers_not_the_apps():
    """Every alert goes through Alertmanager: the app gets neither the password nor SMTP_*."""
    uploads = {u["file"] for u in PROD.container("app-secrets").plain("uploads")}
    assert "/staging/smtp-password" not in uploads
    envs = PROD.container("app").plain("envs")
    assert not [e for e in envs if e.startswith(("SMTP_", "ALERT_"))]


def test_unset_optional_secret_gets_no_file():
    uploads = {u["file"] for u in DEV.container("app-secrets").plain("uploads")}
    assert "/staging/openai-api-key" not in uploads
    assert "/staging/smtp-password" not in uploads


def test_app_receives_api_key_hashes_never_the_keys():
    uploads = {u["file"]: u["content"] for u in PROD.container("app-secrets").plain("uploads")}
    hashes = uploads["/staging/api-keys"]
    for entry in program.PROD_SECRETS["apiKeys"].split():
        name, scopes, key = entry.split(":", 2)
        assert f"{name} {scopes} {hashlib.sha256(key.encode()).hexdigest()}" in hashes
        assert key not in hashes


@pytest.mark.parametrize("service", ["redis", "qdrant", "app", "worker"])
def test_service_carries_its_writers_revision(service):
    """A new writer (new secrets) means a new container; app names change with it."""
    writer_id = f"{SECRETS_VOLUME[service]}-id"  # what the mocks return as the writer's id
    container = PROD.container(service)
    assert program.labels_of(container)["org.ora.secrets-revision"] == writer_id[:12]
    if service in ("app", "worker"):
        assert container.plain("name").endswith(writer_id[:6])


def test_failed_writer_fails_the_update_quoting_its_output():
    assert oneshot.checked_revision("0123456789abcdef", 0, "") == "0123456789ab"
    assert oneshot.checked_revision(None, None, None) == ""  # preview: not known yet
    with pytest.raises(RuntimeError, match=r"exited with 1(.|\n)*cp: cannot stat"):
        oneshot.checked_revision("0123456789abcdef", 1, "cp: cannot stat '/staging/x'\n")


@pytest.mark.parametrize("bad", [(), ("Bad Name",), ("../x",)])
def test_install_script_refuses_bad_names(bad):
    with pytest.raises(ValueError, match="secret file names"):
        secret_files.install_script(bad, "999:999")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another UID needs root (CI is root)")
def test_install_script_installs_0400_files_and_keeps_no_copy(tmp_path):
    staging, target = tmp_path / "staging", tmp_path / "secrets"
    staging.mkdir()
    target.mkdir()
    (staging / "redis-password").write_text("s3cret")
    (target / "stale").write_text("old")
    script = secret_files.install_script(("redis-password",), "999:999", str(staging), str(target))
    subprocess.run(["sh", "-c", script], check=True)
    installed = target / "redis-password"
    assert installed.read_text() == "s3cret"
    stat = installed.stat()
    assert (oct(stat.st_mode & 0o777), stat.st_uid, stat.st_gid) == ("0o400", 999, 999)
    assert sorted(p.name for p in target.iterdir()) == ["redis-password"]
    assert not staging.exists()

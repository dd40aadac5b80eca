"""The exporter's Redis user, against the real redis-server started by Redis's own launch
script (infra/services/redis.py): it reads INFO and what the exporter asks, and no data."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import pytest
import redis

from infra.services import redis_acl
from infra.services.redis import launch_script
from tests.ports import allocate

ADMIN_PASSWORD = "test-redis-password-0123456789"
EXPORTER_PASSWORD = "test-exporter-password-0123456789"


def test_renders_one_user_with_the_hash_and_only_its_commands():
    digest = hashlib.sha256(EXPORTER_PASSWORD.encode()).hexdigest()
    assert redis_acl.exporter_user(EXPORTER_PASSWORD) == (
        f"user redis-exporter reset on #{digest} +info +ping +client|setname"
        " +latency|latest +latency|histogram +slowlog|len\n"
    )
    assert EXPORTER_PASSWORD not in redis_acl.exporter_user(EXPORTER_PASSWORD)


@pytest.mark.parametrize("password", ["", "short", "a password with spaces 0123"])
def test_refuses_a_weak_or_spaced_password(password):
    with pytest.raises(ValueError, match="16\\+ characters"):
        redis_acl.exporter_user(password)


def _start(directory: Path, users: str | None) -> tuple[subprocess.Popen, int]:
    (directory / "password").write_text(ADMIN_PASSWORD)
    if users is not None:
        (directory / "users").write_text(users)
    script = launch_script(
        password_file=str(directory / "password"),
        users_file=str(directory / "users"),
        auth_file=str(directory / "auth.conf"),
    )
    port = allocate()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    args += ["--save", "", "--appendonly", "no"]
    log = directory / "redis.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["sh", "-c", script, "redis", *args], stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"redis-server exited: {log.read_text()}")
        try:
            with redis.Redis(port=port, password=ADMIN_PASSWORD) as client:
                client.ping()
            return process, port
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("redis-server did not answer")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process, port = _start(
        tmp_path_factory.mktemp("redis"), redis_acl.exporter_user(EXPORTER_PASSWORD)
    )
    with redis.Redis(port=port, password=ADMIN_PASSWORD) as admin:
        admin.set("ora:job:1", "payload")
    yield port
    process.terminate()
    process.wait(10)


@pytest.fixture
def exporter(server):
    with redis.Redis(
        port=server, username=redis_acl.EXPORTER_USER, password=EXPORTER_PASSWORD
    ) as client:
        yield client


@pytest.mark.parametrize(
    "command",
    [
        ("INFO", "ALL"),
        ("PING",),
        ("CLIENT", "SETNAME", "redis_exporter"),
        ("LATENCY", "LATEST"),
        ("LATENCY", "HISTOGRAM"),
        ("SLOWLOG", "LEN"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_the_exporter_runs_what_it_scrapes_with(exporter, command):
    exporter.execute_command(*command)


def test_the_exporter_reads_maxmemory_from_info(exporter):
    assert "maxmemory" in exporter.info("memory")


@pytest.mark.parametrize(
    "command",
    [
        ("GET", "ora:job:1"),
        ("SET", "ora:job:1", "x"),
        ("FLUSHALL",),
        ("DEL", "ora:job:1"),
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("CONFIG", "GET", "requirepass"),
        ("CONFIG", "SET", "maxmemory", "1"),
        ("SLOWLOG", "GET", "1"),
        ("CLIENT", "LIST"),
        ("ACL", "LIST"),
        ("EVAL", "return redis.call('GET', 'ora:job:1')", "0"),
        ("SUBSCRIBE", "jobs"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_the_exporter_is_refused_everything_else(exporter, command):
    with pytest.raises(redis.exceptions.NoPermissionError):
        exporter.execute_command(*command)


def test_the_data_is_untouched_and_the_admin_keeps_every_right(server):
    with redis.Redis(port=server, password=ADMIN_PASSWORD) as admin:
        assert admin.get("ora:job:1") == b"payload"
        assert admin.execute_command("CONFIG", "GET", "maxmemory")


def test_a_wrong_password_is_refused(server):
    with (
        pytest.raises(redis.AuthenticationError),
        redis.Redis(port=server, username=redis_acl.EXPORTER_USER, password="wrong") as client,
    ):
        client.ping()


def test_without_the_users_file_there_is_only_the_default_user(tmp_path):
    """The swarm target (no monitoring): the same launch script, no exporter user."""
    process, port = _start(tmp_path, None)
    try:
        with redis.Redis(port=port, password=ADMIN_PASSWORD) as admin:
            assert admin.execute_command("ACL", "USERS") == [b"default"]
    finally:
        process.terminate()
        process.wait(10)

"""Fixtures: a real redis-server (with a password) on a port from tests/ports.py,
settings injected as an environment mapping, the app in-process, and helpers for real
subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from tests.ports import allocate

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "app"
sys.path.insert(0, str(APP_DIR))  # the service is importable as `ora`, as in its image

from ora.apikeys import format_line  # noqa: E402
from ora.settings import load_settings  # noqa: E402
from ora.web import create_app  # noqa: E402

REDIS_PASSWORD = "test-redis-password-123"
SECRET_KEY = "s" * 48
# Test keys by name: (scopes, the key a client sends). `all` is the default client's.
API_KEYS = {
    "reader": (("read",), "key-reader-0123456789abcdef"),
    "writer": (("write",), "key-writer-0123456789abcdef"),
    "admin": (("admin",), "key-admin-0123456789abcdef"),
    "all": (("read", "write", "admin"), "key-all-0123456789abcdef"),
}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEYS[name][1]}"}


def write_keys_file(path: Path) -> Path:
    lines = ["# test keys", ""]
    lines += [format_line(name, scopes, key) for name, (scopes, key) in API_KEYS.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.05):
    """Poll until predicate() is truthy; return its value, or fail after a generous timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


class RedisServer:
    def __init__(self, directory: Path, eviction: str = "volatile-lru") -> None:
        self.directory = directory
        self.eviction = eviction
        self.port = allocate()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://:{REDIS_PASSWORD}@127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                REDIS_PASSWORD,
                "--maxmemory-policy",
                self.eviction,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers)

    def _answers(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server) -> Iterator[redis.Redis]:
    with redis_server.client() as client:
        client.flushall()
        yield client


@pytest.fixture(scope="session")
def keys_file(tmp_path_factory) -> Path:
    return write_keys_file(tmp_path_factory.mktemp("keys") / "api-keys")


def base_env(redis_url: str, keys_file: Path | None = None) -> dict[str, str]:
    return {
        **({"API_KEYS_FILE": str(keys_file)} if keys_file else {}),
        "REDIS_URL": redis_url,
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "testserver,ora.example.com",
        "QDRANT_URL": ":memory:",
        "LOG_LEVEL": "INFO",
        "JOB_VISIBILITY_TIMEOUT": "10",
        "JOB_MAX_ATTEMPTS": "3",
        "JOB_BACKOFF_BASE": "0.05",
        "LOOP_HEALTH_INTERVAL": "3600",
    }


@pytest.fixture
def env(redis_server, redis_client, keys_file) -> dict[str, str]:
    return base_env(redis_server.url, keys_file)


@pytest.fixture
def client(env) -> Iterator[TestClient]:
    """The app in-process, sending the key that holds every scope."""
    with TestClient(create_app(load_settings(env)), headers=bearer("all")) as test_client:
        yield test_client


def process_env(env: dict[str, str]) -> dict[str, str]:
    """A subprocess environment: the test settings plus PATH, with app/ importable."""
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(APP_DIR), "HOME": "/tmp", **env}


@pytest.fixture
def start_worker(env, tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    processes = []

    def start(**overrides: str) -> subprocess.Popen:
        """The worker; its /metrics on a free port, `process.metrics_url`."""
        log = open(tmp_path / f"worker-{len(processes)}.log", "wb")  # noqa: SIM115
        settings = {"WORKER_METRICS_PORT": str(allocate()), **env, **overrides}
        process = subprocess.Popen(
            [sys.executable, "-m", "ora.worker"],
            cwd=APP_DIR,
            env=process_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process.metrics_url = f"http://127.0.0.1:{settings['WORKER_METRICS_PORT']}/metrics"
        processes.append((process, log))
        return process

    yield start
    for process, log in processes:
        stop_process(process)
        log.close()

"""The production command really serves: Gunicorn master, two Uvicorn workers."""

import json
import subprocess
import sys

import httpx
import pytest
from conftest import APP_DIR, bearer, process_env, stop_process, wait_for
from prometheus_client.parser import text_string_to_metric_families

from tests.ports import allocate


@pytest.fixture
def gunicorn(env, tmp_path):
    port = allocate()
    log_path = tmp_path / "gunicorn.log"
    static_dir = tmp_path / "static"
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "ora.main:app",
            ],
            cwd=APP_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=process_env(
                {
                    **env,
                    "WEB_CONCURRENCY": "2",
                    "STATIC_EXPORT_DIR": str(static_dir),
                    "ORA_LOG_DIR": str(log_dir),
                }
            ),
        )
        try:
            process.log_dir = log_dir
            yield process, f"http://127.0.0.1:{port}", log_path, static_dir
        finally:
            stop_process(process)


def get(url, **kwargs):
    try:
        return httpx.get(url, timeout=5, **kwargs)
    except httpx.TransportError:
        return None


def serving(process, url):
    """Poll predicate: the response once up; fails at once if Gunicorn exited instead."""
    assert process.poll() is None, f"gunicorn exited with {process.returncode}"
    return get(url)


def log_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def messages(path):
    return {e.get("msg") for e in log_lines(path)}


def started_workers(path):
    started = [
        e["msg"] for e in log_lines(path) if e.get("msg", "").startswith("Started server process")
    ]
    return started if len(started) == 2 else None


def test_gunicorn_serves_healthz_and_search_with_two_uvicorn_workers(gunicorn):
    process, base, log_path, static_dir = gunicorn
    health = wait_for(lambda: serving(process, f"{base}/healthz"), timeout=60)
    assert health.json() == {"status": "ok"}

    search = get(
        f"{base}/api/v1/search",
        params={"q": "hello"},
        headers={"Host": "ora.example.com", "X-Request-ID": "req-1234", **bearer("reader")},
    )
    assert search.status_code == 200
    assert search.json()["results"] == []
    assert search.headers["x-request-id"] == "req-1234"

    lines = wait_for(lambda: [e for e in log_lines(log_path) if e.get("request_id") == "req-1234"])
    assert len(lines) == 1  # one access line per request, written before the response
    assert lines[0]["event"] == "access"
    assert lines[0]["path"] == "/api/v1/search"
    # ORA_LOG_DIR: the same line in app.log (every process's lines, the workers' included)
    in_file = wait_for(
        lambda: [
            e for e in log_lines(process.log_dir / "app.log") if e.get("request_id") == "req-1234"
        ]
    )
    assert in_file == lines

    started = wait_for(lambda: started_workers(log_path))
    booted = [e["msg"] for e in log_lines(log_path) if e.get("msg", "").startswith("Booting")]
    assert len(booted) == len(started) == 2
    assert {"Using worker: uvicorn_worker.UvicornWorker"} <= messages(log_path)
    assert sorted(p.name for p in static_dir.iterdir())[-1] == "robots.txt"
    assert process.poll() is None


def test_gunicorn_metrics_aggregate_all_workers(gunicorn):
    process, base, _, _ = gunicorn
    wait_for(lambda: serving(process, f"{base}/healthz"), timeout=60)
    for _ in range(20):  # spread over both workers by the kernel's accept queue
        assert get(f"{base}/healthz").status_code == 200
    api = {"Host": "ora.example.com"}
    for _ in range(10):
        assert get(f"{base}/api/v1/search?q=x", headers=api).status_code == 401
    text = get(f"{base}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    refused = {
        s.labels["reason"]: s.value
        for s in families["ora_auth_failures"].samples
        if s.name == "ora_auth_failures_total"
    }
    assert refused == {"missing": 10, "invalid": 0, "insufficient_scope": 0}
    healthz = [
        s.value
        for s in families["ora_http_requests"].samples
        if s.name == "ora_http_requests_total" and s.labels["route"] == "/healthz"
    ]
    assert sum(healthz) >= 21


def test_workers_are_never_recycled(env):
    # Recycling (max_requests) resets requests a worker accepted but never read; memory is
    # bounded by the container limit instead (app/gunicorn.conf.py says why).
    printed = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--print-config"],
        cwd=APP_DIR,
        env=process_env(env),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    settings = dict(
        (name.strip(), value.strip())
        for name, _, value in (line.partition("=") for line in printed.splitlines())
    )
    assert settings["max_requests"] == "0"

"""Cached search under Gunicorn + Uvicorn workers vs a bare Uvicorn hello-world.

Run: .venv/bin/python bench/app_bench.py   (needs redis-server and wrk on PATH)
Both servers are measured in this run with the same wrk command; only 127.0.0.1 is used.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: tests/ is importable from the root
from tests.ports import allocate  # noqa: E402

APP_DIR = ROOT / "app"
API_KEY = "bench-api-key-" + "k" * 24  # a throwaway key for a throwaway local server
AUTH = {"Authorization": f"Bearer {API_KEY}"}
# Both servers get the header; the app checks it on every search, as in production.
WRK = ["wrk", "-t2", "-c32", "-d6s", "--latency", "-H", f"Authorization: Bearer {API_KEY}"]
ROUNDS = 2  # alternate the two servers, so a noisy neighbour hits both alike
WORKERS = "2"
PASSWORD = "bench-redis-password"  # noqa: S105 - a throwaway local redis-server
SEARCH_PATH = "/api/v1/search?q=redis+job+queue&limit=5"


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"bench: {url} did not answer within {timeout} s")


def start(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_wrk(url: str) -> tuple[float, float]:
    """Return (requests/s, p99 ms) from wrk's report; fail on any non-2xx response."""
    output = subprocess.run(
        [*WRK, url], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    if os.environ.get("BENCH_VERBOSE"):
        print(output)
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"bench: errors while measuring {url}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", output).groups()
    p99_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99_ms


def keys_file() -> Path:
    sys.path.insert(0, str(APP_DIR))
    from ora.apikeys import format_line

    path = Path(tempfile.mkdtemp(prefix="ora-bench-")) / "api-keys"
    path.write_text(format_line("bench", ["read", "write"], API_KEY) + "\n")
    return path


def start_gunicorn(redis_port: int, port: int) -> tuple[subprocess.Popen, str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": tempfile.gettempdir(),
        "REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{redis_port}/0",
        "SECRET_KEY": "bench-" + "k" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "QDRANT_URL": ":memory:",
        "WEB_CONCURRENCY": WORKERS,
        "API_KEYS_FILE": str(keys_file()),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "ora.main:app",
    ]
    process = start(command, APP_DIR, env)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthz")
    document = {"text": "redis keeps the job queue"}
    httpx.post(f"{base}/api/v1/documents", json=document, headers=AUTH, timeout=10)
    for _ in range(4):  # warm the cache in Redis (and both workers' connection pools)
        response = httpx.get(base + SEARCH_PATH, headers=AUTH, timeout=10)
        response.raise_for_status()
    if response.headers.get("x-cache") != "hit":
        raise SystemExit("bench: the search is not served from the cache")
    return process, base + SEARCH_PATH


def start_hello(port: int) -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(ROOT / "bench"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "app_hello:app",
    ]
    process = start(command, ROOT, {"PATH": os.environ["PATH"]})
    wait_http(f"http://127.0.0.1:{port}/")
    return process, f"http://127.0.0.1:{port}/"


def report(name: str, runs: list[tuple[float, float]]) -> float:
    rps = sum(r for r, _ in runs) / len(runs)
    p99 = max(p for _, p in runs)
    each = ", ".join(f"{r:.0f} req/s p99 {p:.2f} ms" for r, p in runs)
    print(f"{name}: mean {rps:.0f} req/s, worst p99 {p99:.2f} ms  (runs: {each})")
    return rps


def main() -> None:
    processes = []
    with tempfile.TemporaryDirectory(prefix="ora-bench-") as tmp:
        redis_port = allocate()
        processes.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    tmp,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--requirepass",
                    PASSWORD,
                ],
                stdout=subprocess.DEVNULL,
            )
        )
        try:
            gunicorn, search_url = start_gunicorn(redis_port, allocate())
            processes.append(gunicorn)
            hello, hello_url = start_hello(allocate())
            processes.append(hello)
            search_runs, hello_runs = [], []
            for _ in range(ROUNDS):
                search_runs.append(run_wrk(search_url))
                hello_runs.append(run_wrk(hello_url))
        finally:
            for process in reversed(processes):
                stop(process)
    print(f"wrk: {' '.join(WRK)}, {ROUNDS} alternating rounds; 127.0.0.1 only")
    search = report(f"cached search, gunicorn + {WORKERS} uvicorn workers", search_runs)
    baseline = report("hello-world, bare uvicorn (1 process)", hello_runs)
    ratio = search / baseline
    verdict = "met" if ratio >= 0.5 else "NOT met"
    print(f"ratio (search / hello-world req/s): {ratio:.2f}  (goal >= 0.5: {verdict})")


if __name__ == "__main__":
    main()

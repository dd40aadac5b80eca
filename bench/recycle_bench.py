"""Gunicorn worker recycling under load, through the prod rendering of the edge: counts
the requests that come back 502 (and those nginx had to resend) with recycling
(`--max-requests`) and with the shipped config (no recycling, app/gunicorn.conf.py).

    .venv/bin/python bench/recycle_bench.py   (needs nginx, redis-server and wrk)

Two app replicas (Gunicorn, one Uvicorn worker each) listen on 127.0.0.2 and
127.0.0.3 behind the stub DNS name `app`, as in tests/templates; the host's nginx runs
`ora:` prod's rendering (its own version features, and a connection limit wrk from one
address does not hit). wrk sends GETs and POSTs at once, to paths the app answers with a
quick 404/405: the requests are about connections, not work. Both rounds run in this
process, one after the other, with the same wrk commands.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "templates")]

import trustme  # noqa: E402
from edge_harness import REPLICAS, DnsStub, EdgeTree, poll  # noqa: E402
from nginx_binaries import HOST  # noqa: E402

from bench.app_bench import APP_DIR, PASSWORD, keys_file, stop  # noqa: E402
from infra import config  # noqa: E402
from tests.ports import allocate  # noqa: E402

MAX_REQUESTS = 1000  # per worker: low, so that a short run crosses many recycles
JITTER = 200  # the old ratio (50_000 +- 5_000) would let workers recycle together here
WORKERS = "2"  # per replica: one recycles while the other serves
SECONDS = "20s"
POST_SCRIPT = (
    'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'
)


def redis(tmp: Path, port: int) -> subprocess.Popen:
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp)]
    command += ["--save", "", "--appendonly", "no", "--requirepass", PASSWORD]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def replica(address: str, port: int, redis_port: int, recycle: bool) -> subprocess.Popen:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": tempfile.gettempdir(),
        "REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{redis_port}/0",
        "SECRET_KEY": "bench-" + "k" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "QDRANT_URL": ":memory:",
        "WEB_CONCURRENCY": WORKERS,
        "LOG_LEVEL": "WARNING",
        "API_KEYS_FILE": str(keys_file()),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
    command += ["--bind", f"{address}:{port}", "--access-logfile", "/dev/null"]
    if recycle:
        command += ["--max-requests", str(MAX_REQUESTS), "--max-requests-jitter", str(JITTER)]
    return subprocess.Popen(
        [*command, "ora.main:app"], cwd=APP_DIR, env=env, stdout=subprocess.DEVNULL
    )


def edge(root: Path, dns: DnsStub, port: int) -> EdgeTree:
    tree = EdgeTree.create(root, HOST, resolver=dns.address, upstream_port=port)
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_pem.write_to_path(str(tree.root / "tls" / "privkey.pem"))
    chain = b"".join(blob.bytes() for blob in [*cert.cert_chain_pems, ca.cert_pem])
    (tree.root / "tls" / "fullchain.pem").write_bytes(chain)
    tree.write(HOST.feature_set(config.offline("prod"), conn_limit=10_000))
    return tree


def run_round(tree: EdgeTree, redis_port: int, port: int, recycle: bool) -> collections.Counter:
    replicas = [replica(address, port, redis_port, recycle) for address in REPLICAS]
    log = tree.root / "access.log"
    errors = open(tree.root / "nginx.stderr", "a")  # noqa: SIM115 - closed below
    nginx = subprocess.Popen(tree.nginx("-g", "daemon off;"), stderr=errors)
    try:
        base = f"https://127.0.0.1:{tree.runtime.listen_https}"
        poll(lambda: _status(base + "/bench-warmup") == "404", timeout=60, what="app via nginx")
        log.write_text("")
        (tree.root / "error.log").write_text("")
        subprocess.run(tree.nginx("-s", "reopen"), check=True, stderr=errors)
        script = tree.root / "post.lua"
        script.write_text(POST_SCRIPT)
        wrk = ["wrk", "-t1", "-c16", "-d" + SECONDS]
        runs = [
            subprocess.Popen([*wrk, base + "/bench-get"], stdout=subprocess.PIPE, text=True),
            subprocess.Popen(
                [*wrk, "-s", str(script), base + "/bench-post"], stdout=subprocess.PIPE, text=True
            ),
        ]
        for run in runs:
            run.communicate()
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        errors.close()
        for process in replicas:
            stop(process)
    return count(log) + upstream_errors(tree.root / "error.log")


def count(log: Path) -> collections.Counter:
    totals = collections.Counter()
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        method = entry["method"]
        totals[f"{method} requests"] += 1
        if entry["status"] == 502:
            totals[f"{method} 502"] += 1
        if "," in entry["upstream_addr"]:  # nginx tried a second replica
            totals[f"{method} resent to the other replica"] += 1
    return totals


ERRORS = ("Connection reset by peer", "prematurely closed", "Connection refused", "timed out")


def upstream_errors(log: Path) -> collections.Counter:
    """nginx's error log lines about the upstream, by cause."""
    found = collections.Counter()
    for line in log.read_text().splitlines():
        cause = next((e for e in ERRORS if e in line), None)
        if cause and "upstream" in line:
            found[f"nginx error '{cause}'"] += 1
    return found


def _status(url: str) -> str:
    done = subprocess.run(
        ["curl", "-ks", "-o", "/dev/null", "-w", "%{http_code}", url], capture_output=True
    )
    return done.stdout.decode()


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ora-recycle-"))
    tmp.chmod(0o755)
    dns = DnsStub("app", REPLICAS)
    threading.Thread(target=dns.serve_forever, daemon=True).start()
    redis_port, port = allocate(), allocate(*REPLICAS)
    store = redis(tmp, redis_port)
    results = {}
    try:
        tree = edge(tmp / "edge", dns, port)
        for name, recycle in [("recycling", True), ("shipped", False)]:
            results[name] = run_round(tree, redis_port, port, recycle)
    finally:
        stop(store)
        dns.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    version = ".".join(map(str, HOST.versions()[0]))
    print(
        f"wrk -t1 -c16 -d{SECONDS}, GET and POST at once, through nginx {version} (prod rendering)"
    )
    shape = f"2 replicas x {WORKERS} workers"
    labels = {
        "recycling": f"--max-requests {MAX_REQUESTS} --max-requests-jitter {JITTER}, {shape}",
        "shipped": f"app/gunicorn.conf.py as shipped (max_requests = 0), {shape}",
    }
    for name, totals in results.items():
        shown = ", ".join(f"{key}: {value}" for key, value in sorted(totals.items()))
        print(f"{labels[name]}: {shown}")
    print("goal: 0 x 502 with the shipped config")


if __name__ == "__main__":
    main()

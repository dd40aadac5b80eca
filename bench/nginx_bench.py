"""Throughput and p99 latency of a small JSON response: direct to an upstream versus
through the rendered edge (TLS, client keepalive), measured with wrk in the same run.

    .venv/bin/python bench/nginx_bench.py

The upstream is a second nginx returning fixed JSON on 127.0.0.2 and 127.0.0.3 (the two
"replicas" behind the stub DNS name `app`); the direct run targets it on 127.0.0.2.
Traffic stays on 127.0.0.x.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "templates")]

import trustme  # noqa: E402
from edge_harness import REPLICAS, DnsStub, EdgeTree, free_port, on_local_nginx, poll  # noqa: E402

from infra import config  # noqa: E402

WRK = ["wrk", "-t2", "-c32", "-d10s", "--latency"]
UPSTREAM_CONF = """\
worker_processes 1;
pid {root}/upstream.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 100000;
    server {{
        listen {a}:{port} reuseport;
        listen {b}:{port} reuseport;
        location / {{
            default_type application/json;
            return 200 '{{"ok":true,"items":[1,2,3]}}';
        }}
    }}
}}
"""


def wrk(url: str) -> tuple[float, str]:
    out = subprocess.run([*WRK, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors against {url}:\n{out}")
    return rps, p99


def start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen([*command, "-g", "daemon off;"])


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="ora-bench-"))
    root.chmod(0o755)
    port = free_port(*REPLICAS)
    upstream_conf = root / "upstream.conf"
    upstream_conf.write_text(
        UPSTREAM_CONF.format(root=root, a=REPLICAS[0], b=REPLICAS[1], port=port)
    )
    dns = DnsStub("app", REPLICAS)
    threading.Thread(target=dns.serve_forever, daemon=True).start()
    tree = EdgeTree.create(
        root / "edge",
        resolver=dns.address,
        upstream_port=port,
        access_log="/dev/null",
        worker_processes="2",
    )
    cert = trustme.CA().issue_cert("localhost", "127.0.0.1")
    cert.private_key_pem.write_to_path(str(tree.root / "tls" / "privkey.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tree.root / "tls" / "fullchain.pem"))
    tree.write(on_local_nginx(config.offline("dev")))
    processes = [
        start(["nginx", "-p", str(root), "-c", str(upstream_conf), "-e", "stderr"]),
        start(["nginx", "-p", str(tree.root), "-c", str(tree.conf), "-e", "stderr"]),
    ]
    try:
        direct_url = f"http://{REPLICAS[0]}:{port}/"
        edge_url = f"https://127.0.0.1:{tree.runtime.listen_https}/"
        poll(lambda: _ok(direct_url) and _ok(edge_url), what="nginx up")
        direct_rps, direct_p99 = wrk(direct_url)
        edge_rps, edge_p99 = wrk(edge_url)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        dns.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    print(f"wrk: {' '.join(WRK)}")
    print(f"direct  (HTTP, {direct_url}): {direct_rps:10.0f} req/s  p99 {direct_p99}")
    print(f"through nginx (TLS, keepalive): {edge_rps:10.0f} req/s  p99 {edge_p99}")
    print(f"ratio nginx/direct: {edge_rps / direct_rps:.2f} (goal >= 0.85)")


def _ok(url: str) -> bool:
    result = subprocess.run(
        ["curl", "-ksf", "-o", "/dev/null", url], capture_output=True, check=False
    )
    return result.returncode == 0


if __name__ == "__main__":
    main()

"""Throughput and p99 latency of a small JSON response: direct to an upstream versus
through the rendered edge (TLS, client keepalive), measured with wrk in the same run,
on both nginx binaries of tests/templates/nginx_binaries.py:

- sid nginx 1.30 (OpenSSL 3.6) with the dev stack's own rendering: the features of the
  pinned 1.29.1 (http2 on, X25519MLKEM768);
- the host's nginx 1.22 with the host's feature set.

Both resolve the app per request (no upstream keepalive pool; snippets/proxy.conf says
why).

    .venv/bin/python bench/nginx_bench.py

The upstream is a second (host) nginx returning fixed JSON on 127.0.0.2 and 127.0.0.3
(the two "replicas" behind the stub DNS name `app`); the direct run targets it on
127.0.0.2. Traffic stays on 127.0.0.x. The sid chroot is built on first use (~1 min).
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
from edge_harness import REPLICAS, DnsStub, EdgeTree, poll  # noqa: E402
from nginx_binaries import HOST, NginxBinary, sid  # noqa: E402

from infra import config  # noqa: E402
from tests.ports import allocate  # noqa: E402

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
    # The latency distribution line ("     99%   1.23ms"), not a "+/- Stdev" of 99%.
    p99 = re.search(r"^\s+99%\s+(\S+)$", out, re.MULTILINE).group(1)
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors against {url}:\n{out}")
    return rps, p99


def start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen([*command, "-g", "daemon off;"])


def edge_tree(binary: NginxBinary, ca: trustme.CA, dns: DnsStub, port: int) -> EdgeTree:
    """The dev stack as `binary` renders it, in a fresh tree below its filesystem."""
    root = Path(tempfile.mkdtemp(prefix="ora-bench-", dir=binary.filesystem / "tmp"))
    root.chmod(0o755)
    tree = EdgeTree.create(
        root,
        binary,
        resolver=dns.address,
        upstream_port=port,
        access_log="/dev/null",
        worker_processes="2",
    )
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_pem.write_to_path(str(tree.root / "tls" / "privkey.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tree.root / "tls" / "fullchain.pem"))
    tree.write(binary.feature_set(config.offline("dev")))
    return tree


def main() -> None:
    upstream_root = Path(tempfile.mkdtemp(prefix="ora-bench-upstream-"))
    port = allocate(*REPLICAS)
    upstream_conf = upstream_root / "upstream.conf"
    upstream_conf.write_text(
        UPSTREAM_CONF.format(root=upstream_root, a=REPLICAS[0], b=REPLICAS[1], port=port)
    )
    dns = DnsStub("app", REPLICAS)
    threading.Thread(target=dns.serve_forever, daemon=True).start()
    ca = trustme.CA()
    binaries = {"sid": sid(), "host": HOST}
    trees = {name: edge_tree(binary, ca, dns, port) for name, binary in binaries.items()}
    upstream = ["nginx", "-p", str(upstream_root), "-c", str(upstream_conf), "-e", "stderr"]
    processes = [start(upstream)]
    processes += [start(tree.nginx()) for tree in trees.values()]
    results = {}
    try:
        direct_url = f"http://{REPLICAS[0]}:{port}/"
        urls = {name: f"https://127.0.0.1:{t.runtime.listen_https}/" for name, t in trees.items()}
        poll(lambda: all(_ok(url) for url in [direct_url, *urls.values()]), what="nginx up")
        results["direct"] = wrk(direct_url)
        for name, url in urls.items():
            results[name] = wrk(url)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        dns.shutdown()
        for path in [upstream_root, *(tree.root for tree in trees.values())]:
            shutil.rmtree(path, ignore_errors=True)
    direct_rps, direct_p99 = results["direct"]
    print(f"wrk: {' '.join(WRK)}")
    print(f"direct  (HTTP, {direct_url}): {direct_rps:10.0f} req/s  p99 {direct_p99}")
    for name, binary in binaries.items():
        nginx, openssl = (".".join(map(str, v)) for v in binary.versions())
        kind = "pinned rendering" if binary.pinned else "host-feature rendering"
        rps, p99 = results[name]
        print(
            f"through {name} nginx {nginx} (OpenSSL {openssl}, {kind}; TLS, client keepalive): "
            f"{rps:10.0f} req/s  p99 {p99}  ratio nginx/direct {rps / direct_rps:.2f}"
        )
    print("goal: ratio nginx/direct >= 0.85")


def _ok(url: str) -> bool:
    result = subprocess.run(
        ["curl", "-ksf", "-o", "/dev/null", url], capture_output=True, check=False
    )
    return result.returncode == 0


if __name__ == "__main__":
    main()

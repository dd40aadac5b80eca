"""The edge's proxy cost, against the real app direct and against Caddy, in one run.

    .venv/bin/python -m bench.edge_bench      (needs redis-server, wrk, caddy, nginx)

The real app (Gunicorn + 2 Uvicorn workers, a cached search, a local redis-server) is
measured four ways, in alternating rounds, at 8, 32 and 128 connections (wrk -t2):
- direct: plain HTTP to Gunicorn;
- edge pool: the host's nginx with the prod rendering (TLS, headers, access log to a
  file, ora:edgeWorkers' default of one worker) and the replica's address in a static
  upstream with a keepalive pool, as the program renders it now;
- edge resolve: the same with the offline rendering, the per-request resolution of
  the `app` alias (what main did before the pool; no upstream keepalive);
- caddy: Debian's Caddy 2.6, `tls internal`, `reverse_proxy` to the app, access log
  to a file.
The rate and connection limits are lifted (a benchmark, not a client). CPU seconds
are read from /proc (utime + stime of the process and its children) around each wrk
run, for the proxy and for the app, and from wrk's own rusage for the client: the
client shares the 2 cores, and TLS costs it more than plain HTTP. Everything stays
on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.app_bench import API_KEY, PASSWORD, start_gunicorn, stop

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "tests" / "templates"))

import trustme  # noqa: E402
from edge_harness import DnsStub, EdgeTree, poll  # noqa: E402
from nginx_binaries import HOST  # noqa: E402

from infra import config  # noqa: E402
from tests.ports import allocate  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = (8, 32, 128)
PATHS = ("direct", "edge pool", "edge resolve", "caddy")
PROXIES = ("edge pool", "edge resolve", "caddy")
TICKS = os.sysconf("SC_CLK_TCK")
FAILURES: dict[str, int] = {}  # socket errors + non-2xx responses per URL, over the run
CADDYFILE = """{{
    admin off
    auto_https disable_redirects
    skip_install_trust
    storage file_system {root}/data
}}
https://127.0.0.1:{port} {{
    tls internal
    log {{
        output file {root}/access.log
    }}
    reverse_proxy 127.0.0.1:{app_port}
}}
"""


@dataclasses.dataclass(frozen=True)
class Sample:
    rps: float
    p99_ms: float
    proxy_cpu: float | None  # CPU seconds per 10k requests
    app_cpu: float
    client_cpu: float  # wrk's


def cpu_seconds(pid: int) -> float:
    """CPU of `pid` and its descendants (threads and reaped children included), from /proc."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            # utime, stime, and cutime + cstime: recycled Gunicorn workers that were reaped.
            total += sum(int(x) for x in stats[current][11:15])
        todo += children.get(current, [])
    return total / TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk(url: str, connections: int) -> tuple[int, float, float, float]:
    """(requests, req/s, p99 ms, wrk's CPU seconds); failures are counted in FAILURES."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{SECONDS}s", "--latency"]
    command += ["-H", f"Authorization: Bearer {API_KEY}", url]
    before = children_cpu()
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout
    client = children_cpu() - before
    # Counted, not fatal: Gunicorn recycles workers (max_requests), and a client can
    # see the odd reset (direct) or 502 (one upstream server: no other to retry on).
    counts = re.findall(r"(?:connect|read|write|timeout|responses:) (\d+)", out)
    FAILURES[url] = FAILURES.get(url, 0) + sum(map(int, counts))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    if p99 is None:
        raise SystemExit(f"bench: no p99 in wrk's report for {url}:\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[p99.group(2)]
    return requests, rps, float(p99.group(1)) * scale, client


def edge_tree(work: Path, ca: trustme.CA, app_port: int, dns: DnsStub | None) -> EdgeTree:
    """The prod rendering as the host's nginx takes it, limits lifted."""
    tree = EdgeTree.create(
        work,
        HOST,
        resolver=dns.address if dns else "127.0.0.1",
        upstream_host="app",
        upstream_port=app_port,
    )
    if dns is None:
        tree.upstream_servers = (f"127.0.0.1:{app_port}",)
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(tree.root / "tls" / "privkey.pem"))
    chain = b"".join(blob.bytes() for blob in [*cert.cert_chain_pems, ca.cert_pem])
    (tree.root / "tls" / "fullchain.pem").write_bytes(chain)
    prod = config.offline("prod")
    edge = dataclasses.replace(
        prod.edge, rate_limit="100000r/s", rate_limit_burst=10000, conn_limit=10000
    )
    tree.write(HOST.feature_set(dataclasses.replace(prod, edge=edge)))
    return tree


def start_quiet(command: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)


def start_caddy(work: Path, app_port: int) -> tuple[subprocess.Popen, str]:
    port = allocate()
    (work / "Caddyfile").write_text(CADDYFILE.format(root=work, port=port, app_port=app_port))
    env = {**os.environ, "XDG_DATA_HOME": str(work), "XDG_CONFIG_HOME": str(work)}
    command = ["caddy", "run", "--config", str(work / "Caddyfile"), "--adapter", "caddyfile"]
    return start_quiet(command, env=env), f"https://127.0.0.1:{port}"


def measure(url: str, connections: int, proxy: int | None, app: int) -> Sample:
    before = (cpu_seconds(proxy) if proxy else 0.0, cpu_seconds(app))
    requests, rps, p99, client = wrk(url, connections)
    per_10k = 10_000 / requests
    proxy_cpu = (cpu_seconds(proxy) - before[0]) * per_10k if proxy else None
    app_cpu = (cpu_seconds(app) - before[1]) * per_10k
    return Sample(rps, p99, proxy_cpu, app_cpu, client * per_10k)


def run(work: Path) -> tuple[dict[tuple[str, int], list[Sample]], dict[str, str]]:
    processes: list[subprocess.Popen] = []
    redis_port = allocate()
    redis = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
    processes.append(start_quiet([*redis, "--dir", str(work), "--requirepass", PASSWORD]))
    dns = None
    try:
        app, search = start_gunicorn(redis_port, allocate())
        processes.append(app)
        app_port = int(search.split(":")[2].split("/")[0])
        path_query = search.split(str(app_port), 1)[1]
        dns = DnsStub("app", ("127.0.0.1",))
        threading.Thread(target=dns.serve_forever, daemon=True).start()
        ca = trustme.CA()
        targets: dict[str, tuple[str, subprocess.Popen | None]] = {"direct": (search, None)}
        for name, stub in (("edge pool", None), ("edge resolve", dns)):
            tree = edge_tree(work / name.replace(" ", "-"), ca, app_port, stub)
            nginx = start_quiet(tree.nginx("-g", "daemon off;"))
            processes.append(nginx)
            url = f"https://127.0.0.1:{tree.runtime.listen_https}{path_query}"
            targets[name] = (url, nginx)
        (work / "caddy").mkdir()
        caddy, caddy_base = start_caddy(work / "caddy", app_port)
        processes.append(caddy)
        targets["caddy"] = (caddy_base + path_query, caddy)
        for url, _ in targets.values():
            poll(lambda url=url: _ok(url), timeout=30, what=url)
        results: dict[tuple[str, int], list[Sample]] = {}
        for round_ in range(ROUNDS):
            order = PATHS[round_ % len(PATHS) :] + PATHS[: round_ % len(PATHS)]
            for connections in CONNECTIONS:
                for name in order:
                    url, proxy = targets[name]
                    sample = measure(url, connections, proxy.pid if proxy else None, app.pid)
                    results.setdefault((name, connections), []).append(sample)
        return results, {name: url for name, (url, _) in targets.items()}
    finally:
        if dns:
            dns.shutdown()
        for process in reversed(processes):
            stop(process)


def _ok(url: str) -> bool:
    command = ["curl", "-ksf", "-o", "/dev/null", "-H", f"Authorization: Bearer {API_KEY}", url]
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def median(samples: list[Sample], field: str) -> float:
    return statistics.median(getattr(s, field) for s in samples)


def report(results: dict[tuple[str, int], list[Sample]], urls: dict[str, str]) -> None:
    nginx, openssl = (".".join(map(str, v)) for v in HOST.versions())
    print(
        f"edge bench: {ROUNDS} alternating rounds of wrk -t2 -d{SECONDS}s; medians; host nginx "
        f"{nginx} (OpenSSL {openssl}), prod rendering ({config.offline('prod').edge.workers} "
        "worker), limits lifted; CPU s per 10k requests"
    )
    header = f"{'path':<13} {'conns':>5} {'req/s':>8} {'p99 ms':>8} {'proxy CPU':>9} {'app CPU':>8}"
    print(f"{header} {'wrk CPU':>8}")
    for connections in CONNECTIONS:
        for name in PATHS:
            samples = results[(name, connections)]
            proxy = "-" if name == "direct" else f"{median(samples, 'proxy_cpu'):.2f}"
            print(
                f"{name:<13} {connections:>5} {median(samples, 'rps'):>8.0f} "
                f"{median(samples, 'p99_ms'):>8.1f} {proxy:>9} {median(samples, 'app_cpu'):>8.2f} "
                f"{median(samples, 'client_cpu'):>8.2f}"
            )
    print("ratios, median over rounds of the per-round ratio (req/s, proxy CPU, app CPU, p99):")
    for name in ("edge pool", "edge resolve"):
        for connections in CONNECTIONS:
            edge, direct, caddy = (results[(n, connections)] for n in (name, "direct", "caddy"))
            print(
                f"  {name:<12} {connections:>3} conns: "
                f"edge/direct {ratio(edge, direct, 'rps'):.2f}  "
                f"edge CPU/caddy CPU {ratio(edge, caddy, 'proxy_cpu'):.2f}  "
                f"app CPU behind edge/direct {ratio(edge, direct, 'app_cpu'):.2f}  "
                f"p99 edge/caddy {ratio(edge, caddy, 'p99_ms'):.2f}"
            )
    pooled = [
        edge.rps / direct.rps
        for connections in CONNECTIONS
        for edge, direct in zip(
            results[("edge pool", connections)], results[("direct", connections)], strict=True
        )
    ]
    print(f"  edge pool, every round and client count: edge/direct {statistics.median(pooled):.2f}")
    failures = {name: FAILURES.get(url, 0) for name, url in urls.items()}
    print(f"failed requests (socket errors + non-2xx) over the run: {failures}")
    print(
        "goals (edge pool, the edge now): edge/direct >= 0.85; edge CPU <= 0.6 x caddy's; "
        "app CPU behind the edge <= direct; p99 edge <= caddy"
    )


def ratio(samples: list[Sample], baseline: list[Sample], field: str) -> float:
    pairs = zip(samples, baseline, strict=True)
    return statistics.median(getattr(a, field) / getattr(b, field) for a, b in pairs)


def main() -> None:
    for tool in ("wrk", "caddy", "redis-server", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is not on PATH (apt-get install {tool})")
    with tempfile.TemporaryDirectory(prefix="ora-edge-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx workers run as nobody under root
        report(*run(work))


if __name__ == "__main__":
    main()

"""Real processes for the nginx edge tests: a stub DNS server, stub app replicas, and
the rendered config running on the host's nginx. Shared by the tests and bench/."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import socketserver
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from infra import checks, config, render

REPLICAS = ("127.0.0.2", "127.0.0.3")


def poll(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(0.02)


def free_port(*addresses: str) -> int:
    """A TCP port free on every given address."""
    while True:
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = probe.getsockname()[1]
        if all(_bindable(address, port) for address in addresses[1:]):
            return port


def _bindable(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
        return True


def local_nginx_versions() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(nginx, OpenSSL) versions of the host's nginx binary, from `nginx -V`."""
    text = subprocess.run(["nginx", "-V"], capture_output=True, text=True, check=True).stderr
    nginx = re.search(r"nginx/(\d+\.\d+\.\d+)", text).group(1)
    openssl = re.search(r"built with OpenSSL (\d+\.\d+\.\d+)", text).group(1)
    return checks.version(nginx), checks.version(openssl)


def on_local_nginx(cfg: config.StackConfig, **edge_changes) -> config.StackConfig:
    """The host's Debian nginx is 1.22 (OpenSSL 3.0) while the pinned image runs 1.29
    (OpenSSL 3.5): tests that run nginx here render for the host's feature set; the
    snapshot tests pin both renderings."""
    nginx_version, openssl_version = local_nginx_versions()
    edge = dataclasses.replace(
        cfg.edge, nginx_version=nginx_version, openssl_version=openssl_version, **edge_changes
    )
    return dataclasses.replace(cfg, edge=edge)


# What the behaviour suite runs: the dev stack with small limits, so that 413 and 429
# are reached with a few small requests.
BEHAVIOUR_EDGE = {"rate_limit": "1r/m", "rate_limit_burst": 2, "client_max_body_size": "1k"}


def behaviour_config(**edge_changes) -> config.StackConfig:
    return on_local_nginx(config.offline("dev"), **{**BEHAVIOUR_EDGE, **edge_changes})


class DnsStub(socketserver.ThreadingUDPServer):
    """Answers A queries for one name with fixed addresses (TTL 1 s); NXDOMAIN otherwise."""

    def __init__(self, name: str, addresses: tuple[str, ...]) -> None:
        self.name = name.lower()
        self.addresses = addresses
        super().__init__(("127.0.0.1", 0), _DnsHandler)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"


class _DnsHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        query, sock = self.request
        labels, offset = [], 12
        while query[offset]:
            length = query[offset]
            labels.append(query[offset + 1 : offset + 1 + length].decode().lower())
            offset += 1 + length
        qtype = struct.unpack("!H", query[offset + 1 : offset + 3])[0]
        question = query[12 : offset + 5]
        known = ".".join(labels) == self.server.name
        answers = self.server.addresses if known and qtype == 1 else ()
        flags = 0x8580 if known else 0x8583  # response, authoritative, NOERROR / NXDOMAIN
        header = query[:2] + struct.pack("!HHHHH", flags, 1, len(answers), 0, 0)
        records = b"".join(
            struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(a) for a in answers
        )
        sock.sendto(header + question + records, self.client_address)


class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/__close":
            self.close_connection = True
            return
        body = json.dumps(
            {
                "replica": self.server.server_address[0],
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Powered-By", "stub/1.0")
        self.send_header("X-Frame-Options", "SAMEORIGIN")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.do_GET()

    def log_message(self, *args: object) -> None:
        pass


class StubApp:
    """One app replica: an HTTP/1.1 keepalive server answering JSON in a thread."""

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        self.server = ThreadingHTTPServer((self.address, self.port), _StubHandler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@dataclasses.dataclass
class EdgeTree:
    """A rendered config written under `root`, with the test paths of `runtime`."""

    root: Path
    runtime: render.NginxRuntime

    @classmethod
    def create(cls, root: Path, **runtime_changes) -> EdgeTree:
        address = "127.0.0.1"
        runtime = render.NginxRuntime(
            tls_dir=str(root / "tls"),
            static_root=str(root / "static"),
            acme_webroot=str(root / "acme"),
            listen_address=address,
            listen_http=free_port(address),
            listen_https=free_port(address),
            conf_dir=str(root / "conf"),
            temp_dir=str(root / "tmp"),
            access_log=str(root / "access.log"),
            error_log=str(root / "error.log"),
            worker_processes="1",
        )
        runtime = dataclasses.replace(runtime, **runtime_changes)
        for sub in ("tls", "static", "acme", "conf", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        # As root, workers run as `nobody` (no `user` directive): keep the tree readable.
        root.chmod(0o755)
        return cls(root, runtime)

    @property
    def conf(self) -> Path:
        return self.root / "conf" / "nginx.conf"

    def write(self, cfg: config.StackConfig) -> None:
        for path, text in render.render_nginx(cfg, self.runtime).items():
            target = self.root / "conf" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def check(self) -> subprocess.CompletedProcess:
        command = ["nginx", "-t", "-p", str(self.root), "-c", str(self.conf), "-e", "stderr"]
        return subprocess.run(command, capture_output=True, text=True, check=False)


class NginxProcess:
    """The host's nginx in the foreground on an EdgeTree; `stop` ends it."""

    def __init__(self, tree: EdgeTree) -> None:
        self.tree = tree
        command = ["nginx", "-p", str(tree.root), "-c", str(tree.conf), "-e", "stderr"]
        self.process = subprocess.Popen(
            [*command, "-g", "daemon off;"], stderr=subprocess.PIPE, text=True
        )
        poll(self._listening, what="nginx listening")

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"nginx exited: {self.process.stderr.read()}")
        ports = (self.tree.runtime.listen_http, self.tree.runtime.listen_https)
        return all(_accepts("127.0.0.1", port) for port in ports)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stderr.close()


def _accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False

"""Real processes for the nginx edge tests: a stub DNS server, stub app replicas, and
the rendered config running on an nginx binary (nginx_binaries). Shared by the tests
and bench/."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import socketserver
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from nginx_binaries import NginxBinary

from infra import config
from infra.edge import render
from tests.ports import allocate

REPLICAS = ("127.0.0.2", "127.0.0.3")


def poll(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(0.02)


# What the behaviour suite runs: the dev stack with small limits, so that 413 and 429
# are reached with a few small requests.
BEHAVIOUR_EDGE = {
    "rate_limit": "1r/m",
    "rate_limit_burst": 2,
    "conn_limit": 2,
    "client_max_body_size": "1k",
}


def behaviour_config(binary: NginxBinary, **edge_changes) -> config.StackConfig:
    return binary.feature_set(config.offline("dev"), **{**BEHAVIOUR_EDGE, **edge_changes})


def acme_config(binary: NginxBinary, domain: str) -> config.StackConfig:
    """The prod stack with tlsMode acme for `domain`, as `binary` can run it."""
    prod = config.offline("prod")
    edge = dataclasses.replace(
        prod.edge, tls_mode="acme", acme_email="ops@example.com", domain=domain
    )
    return binary.feature_set(dataclasses.replace(prod, edge=edge))


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


class Hold:
    """Requests to /__hold wait in the stub app until `release`: requests kept in progress
    on demand (limit_conn counts those)."""

    TIMEOUT = 10.0

    def __init__(self) -> None:
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.waiting = 0

    def wait(self) -> None:
        with self._lock:
            self.waiting += 1
        self._released.wait(self.TIMEOUT)
        with self._lock:
            self.waiting -= 1

    def release(self) -> None:
        self._released.set()

    def reset(self) -> None:
        self._released.clear()


HOLD = Hold()


class ResetOnce:
    """The first request to /__reset_once/TOKEN, on whichever replica it lands, is read
    and then answered with a TCP reset (what a recycled Gunicorn worker does to a request
    it accepted but never served); later ones with the same TOKEN are served. `attempts`
    counts every arrival per TOKEN."""

    PREFIX = "/__reset_once/"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attempts: dict[str, int] = {}

    def first_arrival(self, path: str) -> bool:
        token = path.removeprefix(self.PREFIX)
        with self._lock:
            self.attempts[token] = self.attempts.get(token, 0) + 1
            return self.attempts[token] == 1


RESET_ONCE = ResetOnce()


class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/__close":
            self.close_connection = True
            return
        if self.path == "/__hold":
            HOLD.wait()
        if self.path.startswith(ResetOnce.PREFIX) and RESET_ONCE.first_arrival(self.path):
            # SO_LINGER 0 then close: an RST, not a FIN, with the request already read.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        body = json.dumps(
            {
                "replica": self.server.server_address[0],
                "peer_port": self.client_address[1],  # one per upstream connection
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


class _StubServer(ThreadingHTTPServer):
    """Remembers its open connections, so that stopping it can drop them."""

    daemon_threads = True

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.connections: set[socket.socket] = set()

    def process_request(self, request, client_address) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)


class StubApp:
    """One app replica: an HTTP/1.1 keepalive server answering JSON in a thread."""

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self.server: _StubServer | None = None

    def start(self) -> None:
        self.server = _StubServer((self.address, self.port), _StubHandler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Like a stopped container: no listener, and its open (keepalive) connections
        to nginx are gone too."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            for connection in list(self.server.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self.server = None


@dataclasses.dataclass
class EdgeTree:
    """A rendered config written under `root` (a host path below `binary.filesystem`),
    with the test paths of `runtime` (as `binary` sees them)."""

    root: Path
    binary: NginxBinary
    runtime: render.NginxRuntime
    upstream_servers: tuple[str, ...] = ()  # given: the static upstream with a keepalive pool

    @classmethod
    def create(cls, root: Path, binary: NginxBinary, **runtime_changes) -> EdgeTree:
        address = "127.0.0.1"
        runtime = render.NginxRuntime(
            tls_dir=binary.path(root / "tls"),
            acme_tls_dir=binary.path(root / "tls"),  # one directory whatever the tlsMode
            static_root=binary.path(root / "static"),
            acme_webroot=binary.path(root / "acme"),
            listen_address=address,
            listen_http=allocate(address),
            listen_https=allocate(address),
            conf_dir=binary.path(root / "conf"),
            temp_dir=binary.path(root / "tmp"),
            access_log=binary.path(root / "access.log"),
            error_log=binary.path(root / "error.log"),
            worker_processes="1",
        )
        runtime = dataclasses.replace(runtime, **runtime_changes)
        for sub in ("tls", "static", "acme", "conf", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        # As root, workers run as `nobody` (no `user` directive): keep the tree readable.
        root.chmod(0o755)
        return cls(root, binary, runtime)

    @property
    def conf(self) -> Path:
        return self.root / "conf" / "nginx.conf"

    def write(self, cfg: config.StackConfig) -> None:
        files = render.render_nginx(cfg, self.runtime, self.upstream_servers)
        for path, text in files.items():
            target = self.root / "conf" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def nginx(self, *args: str) -> list[str]:
        """argv of the tree's nginx on its config, plus `args`."""
        where = self.binary.path
        prefix = ["-p", where(self.root), "-c", where(self.conf), "-e", "stderr"]
        return self.binary.command("nginx", *prefix, *args)

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run(self.nginx("-t"), capture_output=True, text=True, check=False)


class NginxProcess:
    """The tree's nginx in the foreground; `stop` ends it."""

    def __init__(self, tree: EdgeTree) -> None:
        self.tree = tree
        self.process = subprocess.Popen(
            tree.nginx("-g", "daemon off;"), stderr=subprocess.PIPE, text=True
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

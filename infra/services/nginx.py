"""The edge (nginx) as data, for either target: its user, runtime paths, log files and
healthcheck. No resources here."""

from __future__ import annotations

from dataclasses import dataclass

from infra import topology
from infra.services import baseline


@dataclass(frozen=True)
class NginxRuntime:
    """Topology constants of the nginx container; tests override paths and addresses."""

    upstream_host: str = topology.APP.host  # the alias every app replica shares
    upstream_port: int = topology.APP.port
    resolver: str = "127.0.0.11"  # Docker's embedded DNS (tests: host:port of a stub)
    # fullchain.pem + privkey.pem, relative to conf_dir: each release carries its own
    # certificate (infra/edge/release.py); tlsMode acme reads the host's from acme_tls_dir.
    tls_dir: str = "tls"
    acme_tls_dir: str = "/etc/nginx/tls"
    static_root: str = "/srv/static"
    acme_webroot: str = "/srv/acme"
    listen_http: int = 8080  # inside the container (nginx-unprivileged)
    listen_https: int = 8443
    listen_address: str = ""  # "" = every address; tests bind 127.0.0.1
    conf_dir: str = "/etc/ora-edge/live"  # the live release (infra/edge/release.py)
    mime_types: str = "/etc/nginx/mime.types"  # shipped by the image
    temp_dir: str = "/tmp"  # the only writable path (read-only root filesystem)
    access_log: str = "/dev/stdout"
    access_log_file: str = ""  # a second copy of the JSON log, on a volume mtail reads
    error_log: str = "/dev/stderr"
    worker_processes: str = ""  # "" = ora:edgeWorkers; tests and benchmarks override


UID = "101"  # the nginx user of nginx-unprivileged
RUNTIME = NginxRuntime()
LOGS_DIR = topology.EDGE_LOGS_DIR  # the edge-logs volume: the JSON access log monitoring reads
ACCESS_LOG_FILE = topology.EDGE_ACCESS_LOG

HEALTHCHECK = baseline.Healthcheck(
    test=[
        "CMD",
        "curl",
        "-fsSk",
        "-o",
        "/dev/null",
        f"https://127.0.0.1:{RUNTIME.listen_https}/healthz",
    ],
    interval="5s",
)

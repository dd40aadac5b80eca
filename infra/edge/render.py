"""Pure builders: StackConfig -> the nginx edge's files (path under /etc/nginx -> text).

No Pulumi import and no side effects beyond reading the templates in nginx_templates/.
`TemplateVars` below is the one contract between this module and the templates: every
variable a template may use is a documented field of it (templates render with
`StrictUndefined`, and tests/templates checks that no template names anything else).

The operators print it with `python -m infra.ops.render nginx STACK` (`make render`; and
`prometheus`, `rules`, `alertmanager`, `mtail`: infra/monitoring/render.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jinja2

from infra import topology
from infra.config import StackConfig
from infra.services import nginx
from infra.services.nginx import NginxRuntime

TEMPLATES_DIR = topology.REPO_ROOT / "nginx_templates"

# Mozilla server-side TLS guidelines 6.0, intermediate profile: ECDHE suites only (6.0
# dropped the DHE ones, so no dhparam file either). ssl-config.mozilla.org/guidelines/6.0.json
MOZILLA_INTERMEDIATE_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)
MOZILLA_CURVES = "X25519:prime256v1:secp384r1"
# OpenSSL >= 3.5 only; the `?` (OpenSSL >= 3.3) makes an OpenSSL that lacks it skip the
# group instead of rejecting the whole list, which would stop nginx from starting.
HYBRID_PQ_GROUP = "?X25519MLKEM768"
# nginx >= 1.23.2 rotates its session ticket keys (shared cache), so Mozilla's generator
# turns tickets off only before that: static keys would void forward secrecy.
SESSION_TICKET_KEY_ROTATION_SINCE = (1, 23, 2)
HTTP2_DIRECTIVE_SINCE = (1, 25, 1)  # `http2 on;`; older nginx takes `listen ... http2`
MAINTENANCE_RETRY_AFTER_SECONDS = 300
# Per client IP on the public /readyz (each call pings Redis and Qdrant): enough for a
# load balancer's or an operator's probes, too little to hammer the data stores.
READYZ_RATE_LIMIT = "2r/s"
READYZ_BURST = 5
# Per client IP on whatever else reaches the app (its 404s; no schema or docs outside
# /api/): a bucket of its own, so pages never spend a client's /api/ budget.
OTHER_RATE_LIMIT = "10r/s"
OTHER_BURST = 20

# OWASP Secure Headers, sent with `always` on every response of both servers.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    (
        "Content-Security-Policy",
        "default-src 'self'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'; object-src 'none'; upgrade-insecure-requests",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Permissions-Policy",
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), "
        "magnetometer=(), microphone=(), payment=(), usb=()",
    ),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("X-Permitted-Cross-Domain-Policies", "none"),
)
# Upstream headers nginx drops: version disclosure, and the ones nginx itself owns.
HIDDEN_UPSTREAM_HEADERS = ("Server", "X-Powered-By", *(name for name, _ in SECURITY_HEADERS))


@dataclass(frozen=True)
class ErrorPage:
    status: int
    title: str
    message: str


ERROR_PAGES: dict[str, ErrorPage] = {
    "html/404.html": ErrorPage(404, "Not found", "There is nothing at this address."),
    "html/413.html": ErrorPage(413, "Request too large", "The request body is too large."),
    "html/429.html": ErrorPage(429, "Too many requests", "Please slow down and retry shortly."),
    "html/50x.html": ErrorPage(502, "Service unavailable", "Please try again in a moment."),
    "html/maintenance.html": ErrorPage(
        503, "Down for maintenance", "Ora is being updated and will be back shortly."
    ),
}

# Output path -> template; nginx.conf includes these conf files by name (no conf.d/*.conf
# glob, so the image's stock conf.d/default.conf is never loaded).
CONF_TEMPLATES = {
    "nginx.conf": "nginx.conf.j2",  # core: process, logs, timeouts, gzip, zones, resolver
    "conf.d/redirect.conf": "conf.d/redirect.conf.j2",  # http: 308 to https, ACME webroot
    "conf.d/ora.conf": "conf.d/ora.conf.j2",  # https server and its locations
    "snippets/tls.conf": "snippets/tls.conf.j2",
    "snippets/security-headers.conf": "snippets/security-headers.conf.j2",
    "snippets/errors.conf": "snippets/errors.conf.j2",
    "snippets/proxy.conf": "snippets/proxy.conf.j2",
    "snippets/static.conf": "snippets/static.conf.j2",
}
ERROR_PAGE_TEMPLATE = "html/error.html.j2"  # receives TemplateVars fields plus `page`


DEFAULT_RUNTIME = nginx.RUNTIME


# Idle app connections each nginx worker keeps. Below the edge's concurrency, the pool
# churns: with 32, 128 busy clients made 1,292 new upstream connections per 17,242
# requests (bench/edge_bench.py's setup, counted as TIME_WAIT sockets); with 256, none.
UPSTREAM_KEEPALIVE = 256
UPSTREAM_KEEPALIVE_TIMEOUT = "60s"  # app/gunicorn.conf.py keepalive (75) must stay above


@dataclass(frozen=True)
class TemplateVars:
    """Every variable the templates receive; nothing else is defined for them."""

    server_names: str  # space-separated edge.allowed_hosts, for server_name
    https_base_url: str  # redirect target: edge.domain, and edge.https_port unless 443
    listen_http: str  # [address:]port of the http server
    listen_https: str  # [address:]port of the https server
    http2_on: bool  # True: `http2 on;` (nginx >= 1.25.1); False: `listen ... ssl http2`
    ssl_ciphers: str  # Mozilla intermediate TLS 1.2 suites
    ssl_ecdh_curve: str  # Mozilla curves, X25519MLKEM768 first on OpenSSL >= 3.5
    session_tickets_off: bool  # nginx < 1.23.2, which never rotates its ticket keys
    ocsp_stapling: bool  # only for provided certificates (see snippets/tls.conf.j2)
    tls_dir: str  # fullchain.pem + privkey.pem
    html_dir: str  # error and maintenance pages (conf_dir/html)
    mime_types: str  # the mime.types file to include
    static_root: str  # the static volume (fingerprinted assets, favicon.ico, robots.txt)
    acme_webroot: str  # the ACME HTTP-01 webroot shared with the renewal client
    upstream: str  # host:port of the app (a Docker alias nginx keeps re-resolving)
    # IP:port of each app replica on the edge network. Given: a static upstream block
    # with a keepalive pool (the program renders it once the new replicas are healthy).
    # Empty (offline `python -m infra.ops.render`, addresses unknown): the per-request alias.
    upstream_servers: tuple[str, ...]
    upstream_keepalive: int  # idle connections kept per worker to the app replicas
    upstream_keepalive_timeout: str  # below the app's gunicorn `keepalive` (75 s)
    resolver: str  # DNS server nginx re-reads the app replicas from
    rate_limit: str  # edge.rate_limit per client IP on /api/ (e.g. 10r/s)
    rate_limit_burst: int  # edge.rate_limit_burst
    readyz_rate_limit: str  # per client IP on /readyz (READYZ_RATE_LIMIT)
    readyz_burst: int  # READYZ_BURST
    other_rate_limit: str  # per client IP on every other proxied path (OTHER_RATE_LIMIT)
    other_burst: int  # OTHER_BURST
    conn_limit: int  # edge.conn_limit: requests in progress per client IP
    client_max_body_size: str  # edge.client_max_body_size
    maintenance: bool  # edge.maintenance: proxied locations answer 503
    retry_after: int  # Retry-After seconds on the maintenance page
    security_headers: tuple[tuple[str, str], ...]  # (name, value), sent `always`
    hidden_upstream_headers: tuple[str, ...]  # proxy_hide_header names
    pid_path: str
    temp_dir: str  # parent of every *_temp_path
    access_log: str  # JSON access log destination
    access_log_file: str  # "" or a file that gets the same JSON lines (monitoring's mtail)
    error_log: str
    worker_processes: str


def template_vars(
    config: StackConfig, runtime: NginxRuntime, upstream_servers: tuple[str, ...] = ()
) -> TemplateVars:
    edge = config.edge
    curves = MOZILLA_CURVES
    if edge.openssl_version >= (3, 5):
        curves = f"{HYBRID_PQ_GROUP}:{curves}"
    prefix = f"{runtime.listen_address}:" if runtime.listen_address else ""
    return TemplateVars(
        server_names=" ".join(edge.allowed_hosts),
        https_base_url=edge.url,
        listen_http=f"{prefix}{runtime.listen_http}",
        listen_https=f"{prefix}{runtime.listen_https}",
        http2_on=edge.nginx_version >= HTTP2_DIRECTIVE_SINCE,
        ssl_ciphers=MOZILLA_INTERMEDIATE_CIPHERS,
        ssl_ecdh_curve=curves,
        session_tickets_off=edge.nginx_version < SESSION_TICKET_KEY_ROTATION_SINCE,
        ocsp_stapling=edge.tls_mode == "provided",
        tls_dir=runtime.acme_tls_dir if edge.tls_mode == "acme" else runtime.tls_dir,
        html_dir=f"{runtime.conf_dir}/html",
        mime_types=runtime.mime_types,
        static_root=runtime.static_root,
        acme_webroot=runtime.acme_webroot,
        upstream=f"{runtime.upstream_host}:{runtime.upstream_port}",
        upstream_servers=tuple(upstream_servers),
        upstream_keepalive=UPSTREAM_KEEPALIVE,
        upstream_keepalive_timeout=UPSTREAM_KEEPALIVE_TIMEOUT,
        resolver=runtime.resolver,
        rate_limit=edge.rate_limit,
        rate_limit_burst=edge.rate_limit_burst,
        readyz_rate_limit=READYZ_RATE_LIMIT,
        readyz_burst=READYZ_BURST,
        other_rate_limit=OTHER_RATE_LIMIT,
        other_burst=OTHER_BURST,
        conn_limit=edge.conn_limit,
        client_max_body_size=edge.client_max_body_size,
        maintenance=edge.maintenance,
        retry_after=MAINTENANCE_RETRY_AFTER_SECONDS,
        security_headers=SECURITY_HEADERS,
        hidden_upstream_headers=HIDDEN_UPSTREAM_HEADERS,
        pid_path=f"{runtime.temp_dir}/nginx.pid",
        temp_dir=runtime.temp_dir,
        access_log=runtime.access_log,
        access_log_file=runtime.access_log_file,
        error_log=runtime.error_log,
        worker_processes=runtime.worker_processes or edge.workers,
    )


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_nginx(
    config: StackConfig,
    runtime: NginxRuntime = DEFAULT_RUNTIME,
    upstream_servers: tuple[str, ...] = (),
) -> dict[str, str]:
    """Every file of the nginx edge, keyed by its path relative to /etc/nginx.

    upstream_servers: the replicas' IP:port (data, not Outputs); empty renders the
    per-request alias form, the offline rendering.
    """
    context = dataclasses.asdict(template_vars(config, runtime, upstream_servers))
    env = environment()
    files = {path: env.get_template(name).render(context) for path, name in CONF_TEMPLATES.items()}
    page_template = env.get_template(ERROR_PAGE_TEMPLATE)
    for path, page in ERROR_PAGES.items():
        files[path] = page_template.render(context, page=page)
    return files


def format_files(files: dict[str, str]) -> str:
    return "".join(f"# ---- {path}\n{text}" for path, text in files.items())

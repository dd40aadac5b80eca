"""The section readers of the host access, the edge, the images, the sizes and the
service settings: each reads its keys through the `Reader`, checks every value, and
records a bad one as a problem naming the key, the value and the fix.

The monitoring and target sections have modules of their own (monitoring.py, target.py).
"""

from __future__ import annotations

from infra import topology
from infra.config import checks
from infra.config.checks import Invalid
from infra.config.reader import Reader
from infra.config.types import Edge, HostAccess, Images, Service, Sizes

TLS_MODES = ("self-signed", "provided", "acme")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Memory floors below which the service does not start reliably (MB).
MEMORY_FLOORS = {"app": 128, "worker": 128, "qdrant": 256, "redis": 32, "nginx": 16}


def read_access(r: Reader, stack: str) -> HostAccess:
    host = r.get("host", lambda v: checks.host_or_ip(v) if v else "", "")
    access = HostAccess(
        host=host,
        ssh_user=r.get("sshUser", checks.unix_user, "deploy"),
        ssh_port=r.get("sshPort", lambda v: checks.integer(v, 1, 65535), 22),
        bootstrap=r.get("bootstrapHost", checks.boolean, False),
        bootstrap_user=r.get("bootstrapUser", checks.unix_user, "root"),
        deploy_keys=r.get("deployPublicKey", checks.ssh_public_keys, ()),
        ci_keys=r.get("ciPublicKey", checks.ssh_public_keys, ()),
    )
    keys_read = not r.failed("deployPublicKey") and not r.failed("ciPublicKey")
    if access.bootstrap and not (access.deploy_keys or access.ci_keys) and keys_read:
        why = Invalid(
            "is empty, and so is ora:ciPublicKey, but bootstrapHost is true: "
            f"{access.ssh_user} could not log in",
            'pulumi config set ora:deployPublicKey "$(cat ~/.ssh/id_ed25519.pub)"',
        )
        r.fail("deployPublicKey", "''", why)
    if access.bootstrap:
        _check_bootstrap_user(r, stack, access)
    if r.text("tlsMode") == "acme" and not access.bootstrap:
        why = Invalid(
            "is false but tlsMode acme runs certbot on the bootstrapped host",
            "pulumi config set ora:bootstrapHost true, or use provided or self-signed",
        )
        r.fail("bootstrapHost", repr(r.text("bootstrapHost")), why)
    needs_host = "bootstrapHost is true" if access.bootstrap else ""
    needs_host = needs_host or ("this is the prod stack" if stack == "prod" else "")
    if needs_host and not r.text("host"):
        r.fail(
            "host", "''", Invalid(f"is empty but {needs_host}", "pulumi config set ora:host HOST")
        )
    return access


def _check_bootstrap_user(r: Reader, stack: str, access: HostAccess) -> None:
    """The bootstrap logs in as bootstrap_user on every run that changes its script: as
    root, sshd must keep PermitRootLogin prohibit-password, which prod does not accept."""
    user = access.bootstrap_user
    if user == access.ssh_user:
        why = Invalid(
            "is also ora:sshUser, whose authorized_keys the bootstrap rewrites (CI's keys "
            "restricted to the Docker API), while the bootstrap needs a shell with sudo",
            "pulumi config set ora:bootstrapUser to a separate user with passwordless sudo",
        )
        r.fail("bootstrapUser", repr(user), why)
    elif user == "root" and stack == "prod":
        why = Invalid(
            "logs in to the prod host as root, so sshd keeps PermitRootLogin "
            "prohibit-password for the bootstrap's later runs",
            "create a user with passwordless sudo on the host (cloud images ship one: "
            "debian, ubuntu), add the deploying keys to its authorized_keys, then "
            "pulumi config set ora:bootstrapUser NAME --stack prod; the bootstrap then sets "
            "PermitRootLogin no",
        )
        r.fail("bootstrapUser", repr(user), why)


def read_edge(r: Reader) -> Edge:
    domain = r.get("domain", checks.dns_name, "localhost")
    allowed = tuple(h.strip() for h in r.text("allowedHosts").split(",") if h.strip())
    for host in allowed:
        try:
            checks.host_pattern(host)
        except Invalid as err:
            r.fail("allowedHosts", repr(host), err)
    http_port = r.get("httpPort", lambda v: checks.integer(v, 1, 65535), 80)
    https_port = r.get("httpsPort", lambda v: checks.integer(v, 1, 65535), 443)
    if http_port == https_port:
        clash = Invalid(
            f"is the same port as ora:httpPort ({http_port})", "use two different ports"
        )
        r.fail("httpsPort", str(https_port), clash)
    edge = Edge(
        domain=domain,
        allowed_hosts=allowed or (domain,),
        bind_address=r.get("bindAddress", checks.ip_address, "0.0.0.0"),  # noqa: S104 - published on purpose
        http_port=http_port,
        https_port=https_port,
        tls_mode=r.get("tlsMode", lambda v: checks.choice(v, TLS_MODES), "self-signed"),
        acme_email=r.text("acmeEmail"),
        acme_server=r.text("acmeServer"),
        rate_limit=r.get("rateLimit", checks.nginx_rate, "10r/s"),
        rate_limit_burst=r.get("rateLimitBurst", lambda v: checks.integer(v, 0, 10000), 20),
        conn_limit=r.get("connLimit", lambda v: checks.integer(v, 1, 10000), 100),
        client_max_body_size=r.get("clientMaxBodySize", checks.nginx_size, "10m"),
        maintenance=r.get("maintenance", checks.boolean, False),
        workers=r.get("edgeWorkers", checks.nginx_workers, "1"),
        nginx_version=r.get("nginxVersion", checks.version, (1, 29, 1)),
        openssl_version=r.get("opensslVersion", checks.version, (3, 5, 1)),
    )
    if edge.tls_mode == "acme":
        if domain == "localhost" or "." not in domain:
            public = Invalid(
                "cannot get a Let's Encrypt certificate",
                "set a public DNS name, or use self-signed",
            )
            r.fail("domain", repr(domain), public)
        r.get("acmeEmail", checks.email)
        r.get("acmeServer", checks.https_url)
    return edge


def read_images(r: Reader, access: HostAccess) -> Images:
    app = r.text("appImage")
    if app:
        app = r.get("appImage", lambda v: checks.image_ref(v, require_digest=access.is_remote))
    elif access.is_remote:
        missing = Invalid(
            "is empty but the host is remote, where nothing is built",
            "build and push app/ in CI, then pulumi config set ora:appImage name@sha256:<digest>",
        )
        r.fail("appImage", "''", missing)
    rollback, rollback_from = _rollback(r, access)
    return Images(
        app=app or None,
        app_rollback=rollback,
        app_rollback_from=rollback_from,
        nginx=r.get("nginxImage", lambda v: checks.image_ref(v, require_digest=False), ""),
        redis=r.get("redisImage", lambda v: checks.image_ref(v, require_digest=False), ""),
        qdrant=r.get("qdrantImage", lambda v: checks.image_ref(v, require_digest=False), ""),
    )


def _rollback(r: Reader, access: HostAccess) -> tuple[str | None, str | None]:
    image, replaced = r.text("appRollbackImage"), r.text("appRollbackFrom")
    if bool(image) != bool(replaced):
        unset = "appRollbackFrom" if image else "appRollbackImage"
        r.fail(
            unset,
            "''",
            Invalid(
                "is empty while the other rollback key is set",
                "run `make rollback` again, or `pulumi config rm` both appRollback keys",
            ),
        )
        return None, None
    if not image:
        return None, None
    checked = r.get(
        "appRollbackImage", lambda v: checks.image_ref(v, require_digest=access.is_remote)
    )
    return checked, replaced


def read_sizes(r: Reader) -> Sizes:
    memory = {
        service: r.get(f"{service}Memory", lambda v, floor=floor: checks.memory_mb(v, floor), floor)
        for service, floor in MEMORY_FLOORS.items()
    }
    return Sizes(
        app_replicas=r.get(
            "appReplicas", lambda v: checks.integer(v, 1, topology.MAX_APP_REPLICAS), 1
        ),
        app_workers=r.get("appWorkers", lambda v: checks.integer(v, 1, 64), 1),
        memory_mb=memory,
    )


def read_service(r: Reader) -> Service:
    smtp_host = r.text("smtpHost")
    if smtp_host:
        smtp_host = r.get("smtpHost", checks.host_or_ip, "")
    return Service(
        log_level=r.get("logLevel", lambda v: checks.choice(v.upper(), LOG_LEVELS), "WARNING"),
        smtp_host=smtp_host,
        smtp_port=r.get("smtpPort", lambda v: checks.integer(v, 1, 65535), 587),
        smtp_user=r.text("smtpUser"),
        search_requires_key=r.get("searchRequiresKey", checks.boolean, True),
        diagnostic_jobs=r.get("diagnosticJobs", checks.boolean, False),
        write_rate_per_minute=r.get(
            "writeRatePerMinute", lambda v: checks.integer(v, 1, 100_000), 120
        ),
    )

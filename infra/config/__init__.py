"""One typed, validated view of a stack's configuration, read once.

`parse` is pure: it takes the raw strings of a stack (Pulumi.yaml defaults plus
the stack's overrides) and returns a frozen `StackConfig`, or raises
`ConfigError` listing every problem, each naming the key, the value and the
fix. `load` is the thin Pulumi-facing wrapper that gathers the raw strings and
turns the secrets into secret Outputs; components never read pulumi.Config.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.config import apikeys, checks, schema
from infra.config import monitoring as config_monitoring
from infra.config import target as config_swarm
from infra.config.checks import Invalid
from infra.config.monitoring import Monitoring
from infra.config.target import Swarm

TLS_MODES = ("self-signed", "provided", "acme")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Secrets the program cannot run without; generated in dev, chosen by an operator in prod.
CORE_SECRETS = ("redisPassword", "qdrantApiKey", "secretKey", "backupPassword", "apiKeys")
# The off-host s3: repository's credentials, written to the host's backup.env.
S3_SECRETS = ("backupOffsiteS3AccessKeyId", "backupOffsiteS3SecretAccessKey")
MIN_SECRET_LENGTH = 16
# The app refuses a SECRET_KEY shorter than 32 characters (app/ora/settings.py).
MIN_LENGTH = {"secretKey": 32}
# Stacks that .github/workflows/pull-request.yml previews: its preview job holds their
# passphrase, so it could decrypt any secret of theirs (tests/unit/test_workflows.py).
PREVIEWED_STACKS = ("prod",)
# Memory floors below which the service does not start reliably (MB).
MEMORY_FLOORS = {"app": 128, "worker": 128, "qdrant": 256, "redis": 32, "nginx": 16}


@dataclass(frozen=True)
class Problem:
    key: str
    value: str
    reason: str
    fix: str

    def __str__(self) -> str:
        end = "" if self.fix.endswith((".", "?")) else "."
        return f"ora:{self.key} = {self.value}: {self.reason}. Fix: {self.fix}{end}"


class ConfigError(Exception):
    def __init__(self, stack: str, problems: list[Problem]) -> None:
        self.problems = problems
        count = f"{len(problems)} configuration error{'s' if len(problems) > 1 else ''}"
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"stack {stack!r} has {count}; nothing was changed:\n{lines}")


@dataclass(frozen=True)
class Target:
    host: str
    ssh_user: str
    ssh_port: int
    bootstrap: bool
    bootstrap_user: str
    # OpenSSH public key lines installed for ssh_user (the Docker provider's login):
    # the operators' unrestricted, CI's restricted to the Docker API (host_hardening).
    deploy_keys: tuple[str, ...] = ()
    ci_keys: tuple[str, ...] = ()

    @property
    def is_remote(self) -> bool:
        return bool(self.host)

    @property
    def docker_host(self) -> str | None:
        """The DOCKER_HOST for the provider; None means the local engine."""
        if not self.is_remote:
            return None
        port = "" if self.ssh_port == 22 else f":{self.ssh_port}"
        return f"ssh://{self.ssh_user}@{self.host}{port}"


@dataclass(frozen=True)
class Edge:
    domain: str
    allowed_hosts: tuple[str, ...]
    bind_address: str
    http_port: int
    https_port: int
    tls_mode: str
    acme_email: str
    acme_server: str
    rate_limit: str
    rate_limit_burst: int
    conn_limit: int
    client_max_body_size: str
    maintenance: bool
    workers: str  # nginx worker_processes: a count or auto
    nginx_version: tuple[int, ...]
    openssl_version: tuple[int, ...]

    @property
    def url(self) -> str:
        port = "" if self.https_port == 443 else f":{self.https_port}"
        return f"https://{self.domain}{port}"


@dataclass(frozen=True)
class Images:
    app: str | None  # None: build app/ on the Docker host
    nginx: str
    redis: str
    qdrant: str
    # `make rollback` (infra/deploys.py): run app_rollback while the stack would otherwise
    # deploy app_rollback_from; both set or both None.
    app_rollback: str | None = None
    app_rollback_from: str | None = None


@dataclass(frozen=True)
class Sizes:
    app_replicas: int
    app_workers: int
    memory_mb: Mapping[str, int]


@dataclass(frozen=True)
class Service:
    log_level: str
    smtp_host: str
    smtp_port: int
    smtp_user: str
    search_requires_key: bool
    diagnostic_jobs: bool
    write_rate_per_minute: int


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    target: Target
    edge: Edge
    images: Images
    sizes: Sizes
    service: Service
    monitoring: Monitoring
    generate_secrets: bool
    backup_schedule: str
    backup_textfile_dir: str
    backup_offsite_repository: str
    backup_offsite_known_hosts: str
    # Names of secrets the operator set; their values live only in `secrets`.
    secrets_set: frozenset[str]
    # host (one Docker engine, the default) or swarm (infra/config/target.py)
    swarm: Swarm = config_swarm.SINGLE_HOST
    # key -> pulumi Output[str] marked secret; filled by `load`, empty under `parse`.
    secrets: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


class _Reader:
    """Reads raw strings with schema defaults, collecting problems instead of failing fast."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def text(self, key: str) -> str:
        value = self.raw.get(key, schema.keys()[key].default)
        if isinstance(value, bool):  # a YAML default, spelled as the CLI spells it
            return "true" if value else "false"
        return "" if value is None else str(value)

    def get(
        self,
        key: str,
        check: Callable[[str], Any],
        fallback: Any = None,
        shown: Callable[[str], str] = str,
    ) -> Any:
        """check(value), or the fallback and a problem showing `shown(value)`."""
        value = self.text(key)
        try:
            return check(value)
        except Invalid as err:
            self.fail(key, repr(shown(value)), err)
            return fallback

    def fail(self, key: str, shown: str, err: Invalid) -> None:
        self.problems.append(Problem(key, shown, err.reason, err.fix))

    def problems_for(self, key: str) -> list[Problem]:
        return [p for p in self.problems if p.key == key]


def parse(
    stack: str,
    raw: Mapping[str, str],
    secrets_set: frozenset[str] = frozenset(),
    pem: Mapping[str, str] | None = None,
    api_keys: str | None = None,
    secret_lengths: Mapping[str, int] | None = None,
    plaintext_secrets: frozenset[str] = frozenset(),
    now: dt.datetime | None = None,
    project: str = schema.NAMESPACE,
    verify_certificate: bool = True,
) -> StackConfig:
    """Builds the StackConfig of `stack` from raw config strings, or raises ConfigError."""
    r = _Reader(raw)
    _reject_unknown_keys(r, raw)
    target = _target(r, stack)
    edge = _edge(r)
    config = StackConfig(
        project=project,
        stack=stack,
        target=target,
        edge=edge,
        images=_images(r, target),
        sizes=_sizes(r),
        service=(service := _service(r)),
        monitoring=config_monitoring.read(r, service.smtp_host),
        generate_secrets=r.get("generateSecrets", checks.boolean, True),
        backup_schedule=r.get("backupSchedule", checks.on_calendar, "*-*-* 03:17:00"),
        backup_textfile_dir=r.get("backupTextfileDir", checks.absolute_path, ""),
        backup_offsite_repository=r.get(
            "backupOffsiteRepository", checks.restic_repository, "", checks.without_password
        ),
        backup_offsite_known_hosts=r.get("backupOffsiteKnownHosts", checks.known_hosts, ""),
        secrets_set=secrets_set,
        swarm=config_swarm.read(r),
    )
    _check_secrets(r, config, secret_lengths or {}, plaintext_secrets)
    if api_keys is not None:
        _check_api_keys(r, api_keys)
    if verify_certificate:
        _check_tls(r, config, pem or {}, now or dt.datetime.now(dt.UTC))
    if r.problems:
        raise ConfigError(stack, r.problems)
    return config


def _reject_unknown_keys(r: _Reader, raw: Mapping[str, str]) -> None:
    known = schema.keys()
    for key in sorted(set(raw) - set(known)):
        near = difflib.get_close_matches(key, known, n=1)
        fix = f"did you mean ora:{near[0]}?" if near else "see the keys declared in Pulumi.yaml"
        r.fail(key, repr(raw[key]), Invalid("is not a key this project declares", fix))


def _target(r: _Reader, stack: str) -> Target:
    host = r.get("host", lambda v: checks.host_or_ip(v) if v else "", "")
    target = Target(
        host=host,
        ssh_user=r.get("sshUser", checks.unix_user, "deploy"),
        ssh_port=r.get("sshPort", lambda v: checks.integer(v, 1, 65535), 22),
        bootstrap=r.get("bootstrapHost", checks.boolean, False),
        bootstrap_user=r.get("bootstrapUser", checks.unix_user, "root"),
        deploy_keys=r.get("deployPublicKey", checks.ssh_public_keys, ()),
        ci_keys=r.get("ciPublicKey", checks.ssh_public_keys, ()),
    )
    keys_read = not r.problems_for("deployPublicKey") and not r.problems_for("ciPublicKey")
    if target.bootstrap and not (target.deploy_keys or target.ci_keys) and keys_read:
        why = Invalid(
            "is empty, and so is ora:ciPublicKey, but bootstrapHost is true: "
            f"{target.ssh_user} could not log in",
            'pulumi config set ora:deployPublicKey "$(cat ~/.ssh/id_ed25519.pub)"',
        )
        r.fail("deployPublicKey", "''", why)
    if target.bootstrap:
        _check_bootstrap_user(r, stack, target)
    if r.text("tlsMode") == "acme" and not target.bootstrap:
        why = Invalid(
            "is false but tlsMode acme runs certbot on the bootstrapped host",
            "pulumi config set ora:bootstrapHost true, or use provided or self-signed",
        )
        r.fail("bootstrapHost", repr(r.text("bootstrapHost")), why)
    needs_host = "bootstrapHost is true" if target.bootstrap else ""
    needs_host = needs_host or ("this is the prod stack" if stack == "prod" else "")
    if needs_host and not r.text("host"):
        r.fail(
            "host", "''", Invalid(f"is empty but {needs_host}", "pulumi config set ora:host HOST")
        )
    return target


def _check_bootstrap_user(r: _Reader, stack: str, target: Target) -> None:
    """The bootstrap logs in as bootstrap_user on every run that changes its script: as
    root, sshd must keep PermitRootLogin prohibit-password, which prod does not accept."""
    user = target.bootstrap_user
    if user == target.ssh_user:
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


def _edge(r: _Reader) -> Edge:
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


def _images(r: _Reader, target: Target) -> Images:
    app = r.text("appImage")
    if app:
        app = r.get("appImage", lambda v: checks.image_ref(v, require_digest=target.is_remote))
    elif target.is_remote:
        missing = Invalid(
            "is empty but the host is remote, where nothing is built",
            "build and push app/ in CI, then pulumi config set ora:appImage name@sha256:<digest>",
        )
        r.fail("appImage", "''", missing)
    rollback, rollback_from = _rollback(r, target)
    return Images(
        app=app or None,
        app_rollback=rollback,
        app_rollback_from=rollback_from,
        nginx=r.get("nginxImage", lambda v: checks.image_ref(v, require_digest=False), ""),
        redis=r.get("redisImage", lambda v: checks.image_ref(v, require_digest=False), ""),
        qdrant=r.get("qdrantImage", lambda v: checks.image_ref(v, require_digest=False), ""),
    )


def _rollback(r: _Reader, target: Target) -> tuple[str | None, str | None]:
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
    image = r.get(
        "appRollbackImage", lambda v: checks.image_ref(v, require_digest=target.is_remote)
    )
    return image, replaced


def _sizes(r: _Reader) -> Sizes:
    memory = {
        service: r.get(f"{service}Memory", lambda v, floor=floor: checks.memory_mb(v, floor), floor)
        for service, floor in MEMORY_FLOORS.items()
    }
    return Sizes(
        app_replicas=r.get("appReplicas", lambda v: checks.integer(v, 1, 16), 1),
        app_workers=r.get("appWorkers", lambda v: checks.integer(v, 1, 64), 1),
        memory_mb=memory,
    )


def _service(r: _Reader) -> Service:
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


def _secret_fix(key: str) -> str:
    return f"pulumi config set --secret ora:{key} (value read from the prompt)"


def _check_secrets(
    r: _Reader, config: StackConfig, lengths: Mapping[str, int], plaintext: frozenset[str]
) -> None:
    for key in sorted(plaintext):
        shown = "<plain text, not shown>"
        r.fail(key, shown, Invalid("is stored in plain text in the stack file", _secret_fix(key)))
    required = [] if config.generate_secrets else list(CORE_SECRETS)
    if config.service.smtp_user:
        required.append("smtpPassword")
    if config.backup_offsite_repository.startswith("sftp:") and config.target.bootstrap:
        required.append("backupOffsiteSshKey")
    s3 = config.backup_offsite_repository.startswith("s3:")
    if s3 and config.target.bootstrap:
        required += list(S3_SECRETS)
    grafana = config.monitoring.enabled and config.monitoring.grafana
    if grafana and not config.generate_secrets:
        required.append("grafanaAdminPassword")
    because = {
        "smtpPassword": "is required because ora:smtpUser is set",
        "backupOffsiteSshKey": "is required because ora:backupOffsiteRepository is an sftp:"
        " repository",
        "grafanaAdminPassword": "is required while ora:grafana is on and generateSecrets is false",
        **{
            k: "is required because ora:backupOffsiteRepository is an s3: repository"
            for k in S3_SECRETS
        },
    }
    if "sshPrivateKey" in config.secrets_set and config.stack in PREVIEWED_STACKS:
        why = Invalid(
            f"is set in stack {config.stack}, whose passphrase the pull request workflow's "
            "preview job holds: the code of an approved pull request could decrypt it",
            f"pulumi config rm ora:sshPrivateKey --stack {config.stack}; the deploy job logs "
            "in with DEPLOY_SSH_KEY through its SSH agent",
        )
        r.fail("sshPrivateKey", "<secret, not shown>", why)
    for key in required:
        if key not in config.secrets_set:
            why = "is required and generateSecrets is false" if key in CORE_SECRETS else ""
            why = why or because[key]
            r.fail(key, "<unset>", Invalid(why, _secret_fix(key)))
    for key in CORE_SECRETS:
        if key == "apiKeys":
            continue  # a list of keys, each checked by _check_api_keys
        length, minimum = lengths.get(key), MIN_LENGTH.get(key, MIN_SECRET_LENGTH)
        if length is not None and length < minimum:
            too_short = Invalid(f"is shorter than {minimum} characters", _secret_fix(key))
            r.fail(key, f"<secret, {length} characters>", too_short)


def _check_api_keys(r: _Reader, spec: str) -> None:
    try:
        apikeys.parse(spec)
    except Invalid as err:
        r.fail("apiKeys", "<secret>", err)


def _check_tls(r: _Reader, config: StackConfig, pem: Mapping[str, str], now: dt.datetime) -> None:
    if config.edge.tls_mode != "provided":
        return
    missing = [k for k in ("tlsCertificate", "tlsPrivateKey") if k not in pem]
    for key in missing:
        why = Invalid("is required when tlsMode is provided", f"{_secret_fix(key)} < file.pem")
        r.fail(key, "<unset>", why)
    if missing:
        return
    try:
        checks.certificate_pair(
            pem["tlsCertificate"], pem["tlsPrivateKey"], config.edge.domain, now
        )
    except Invalid as err:
        r.fail("tlsCertificate", "<certificate>", err)


def read_stack_file(stack: str) -> tuple[dict[str, str], frozenset[str]]:
    """The plain overrides of Pulumi.<stack>.yaml, and the names of its `secure:` keys.

    For tools that run without the engine (`python -m infra.edge.render`, tests);
    secure values stay encrypted and unread.
    """
    import yaml

    path = schema.stack_file(stack)
    if not path.exists():
        raise FileNotFoundError(
            f"no stack file {path.name}; known stacks: {', '.join(known_stacks())}"
        )
    overrides = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    prefix = f"{schema.NAMESPACE}:"
    raw, secure = {}, set()
    for key, value in overrides.items():
        if not key.startswith(prefix):
            continue  # provider keys such as docker:host
        name = key[len(prefix) :]
        if isinstance(value, dict) and "secure" in value:
            secure.add(name)
        else:
            raw[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return raw, frozenset(secure)


def offline(stack: str, overrides: dict[str, str] | None = None) -> StackConfig:
    """A stack's config from its file alone (plus plain `overrides`, as `pulumi up
    --config` would set them), for rendering and review without the engine.

    Secrets are taken as set (rendered files never contain them) and a provided
    certificate is not inspected; `pulumi preview` still validates both.
    """
    raw, secure = read_stack_file(stack)
    raw = {**raw, **(overrides or {})}
    # sshPrivateKey only if the file has it: in a previewed stack, being set is the error.
    assumed = frozenset(schema.secret_keys()) - {"sshPrivateKey"}
    return parse(
        stack, raw, secrets_set=assumed | (secure & {"sshPrivateKey"}), verify_certificate=False
    )


def known_stacks() -> list[str]:
    return sorted(p.name.split(".")[1] for p in schema.PROJECT_ROOT.glob("Pulumi.*.yaml"))


def load() -> StackConfig:
    """Reads the running stack's configuration once (Pulumi engine or mocks)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{schema.NAMESPACE}:"
    every = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw_all = {k[len(prefix) :]: str(v) for k, v in every.items() if k.startswith(prefix)}
    secret_names = set(schema.secret_keys())
    raw = {k: v for k, v in raw_all.items() if k not in secret_names}
    set_secrets = frozenset(k for k in secret_names if raw_all.get(k))
    plaintext = frozenset(k for k in set_secrets if not runtime_config.is_config_secret(prefix + k))
    config = parse(
        stack=pulumi.get_stack(),
        raw=raw,
        secrets_set=set_secrets,
        # Plain values are inspected in memory for validation only, never logged or exported.
        pem={k: raw_all[k] for k in ("tlsCertificate", "tlsPrivateKey") if k in set_secrets},
        api_keys=raw_all.get("apiKeys") if "apiKeys" in set_secrets else None,
        secret_lengths={k: len(raw_all[k]) for k in set_secrets},
        plaintext_secrets=plaintext,
        project=pulumi.get_project(),
    )
    pulumi_config = pulumi.Config(schema.NAMESPACE)
    secrets = {key: pulumi_config.require_secret(key) for key in sorted(set_secrets)}
    return dataclasses.replace(config, secrets=secrets)

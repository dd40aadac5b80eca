"""Settings, read once from the environment into one typed, frozen object.

Every default and every error message lives here. A bad value raises SettingsError
whose message is one line naming the variable, the value (never for secrets) and the fix.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from ora.apikeys import KeyRing, KeysFileError
from ora.envreader import Env, SettingsError, fail

NO_KEYS = KeyRing()

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_HOST_PATTERN = re.compile(
    r"^(\*|(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9a-fA-F:]+\])$"
)
MIN_SECRET_KEY_LENGTH = 32


@dataclass(frozen=True)
class Settings:
    secret_key: str
    allowed_hosts: tuple[str, ...]
    redis_url: str
    qdrant_url: str = ":memory:"
    qdrant_api_key: str | None = None
    openai_api_key: str | None = None
    openai_model: str = "text-embedding-3-small"
    log_level: str = "WARNING"
    port: int = 8000
    worker_metrics_port: int = 9100
    web_concurrency: int | None = None
    static_export_dir: str | None = None
    log_dir: str | None = None  # ORA_LOG_DIR: JSON lines also go to files here (ora.logs)
    search_cache_ttl: int = 300
    job_visibility_timeout: float = 60.0
    job_max_attempts: int = 5
    job_backoff_base: float = 1.0
    loop_health_interval: float = 60.0
    api_keys: KeyRing = NO_KEYS
    search_requires_key: bool = True
    diagnostic_jobs: bool = False
    write_rate_per_minute: int = 120
    max_document_bytes: int = 65536
    max_metadata_bytes: int = 8192
    max_job_payload_bytes: int = 8192
    max_documents: int = 1_000_000
    max_documents_per_key: int = 100_000
    max_queued_jobs: int = 10_000
    dead_letter_ttl_seconds: int = 7 * 24 * 3600

    @property
    def qdrant_is_local(self) -> bool:
        return not self.qdrant_url.startswith(("http://", "https://"))


def _secret_key(env: Env) -> str:
    value = env.str("SECRET_KEY")
    fix = (
        "set SECRET_KEY to at least 32 random characters "
        '(python3 -c "import secrets; print(secrets.token_urlsafe(48))")'
    )
    if value is None:
        raise fail("SECRET_KEY", None, "it is required", fix)
    if len(value) < MIN_SECRET_KEY_LENGTH:
        raise fail(
            "SECRET_KEY",
            value,
            f"shorter than {MIN_SECRET_KEY_LENGTH} characters",
            fix,
            secret=True,
        )
    return value


def _allowed_hosts(env: Env) -> tuple[str, ...]:
    raw = env.str("ALLOWED_HOSTS")
    fix = (
        "set ALLOWED_HOSTS to comma-separated host names, e.g. ora.example.com,www.ora.example.com"
    )
    if raw is None:
        raise fail("ALLOWED_HOSTS", None, "it is required", fix)
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    bad = [h for h in hosts if not _HOST_PATTERN.match(h)]
    if bad or not hosts:
        raise fail("ALLOWED_HOSTS", raw, f"not a host name: {', '.join(bad) or '(empty)'}", fix)
    return hosts


def _redis_url(env: Env) -> str:
    url = env.str("REDIS_URL")
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
            raise fail(
                "REDIS_URL",
                url,
                "must look like redis://:PASSWORD@HOST:6379/0",
                "set REDIS_URL to redis://[:PASSWORD@]HOST[:PORT][/DB] or set REDIS_HOST instead",
                secret=True,
            )
        return url
    host = env.str("REDIS_HOST")
    if host is None:
        raise fail(
            "REDIS_URL",
            None,
            "neither REDIS_URL nor REDIS_HOST is set",
            "set REDIS_HOST=redis (and REDIS_PORT, REDIS_PASSWORD) or REDIS_URL",
        )
    if not _HOST_PATTERN.match(host) or "*" in host:
        raise fail(
            "REDIS_HOST",
            host,
            "not a host name",
            "set REDIS_HOST to the Redis host name, e.g. redis",
        )
    port = env.int("REDIS_PORT", 6379, 1, 65535, "set REDIS_PORT to the Redis port, e.g. 6379")
    db = env.int("REDIS_DB", 0, 0, 15, "set REDIS_DB to a database number from 0 to 15")
    password = env.str("REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/{db}"


def _qdrant_url(env: Env) -> str:
    url = env.str("QDRANT_URL")
    if url is None:
        host = env.str("QDRANT_HOST")
        if host is None:
            return ":memory:"
        port = env.int(
            "QDRANT_PORT", 6333, 1, 65535, "set QDRANT_PORT to the Qdrant HTTP port, e.g. 6333"
        )
        url = f"http://{host}:{port}"
    if url == ":memory:" or url.startswith(("/", "./")):
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(
            "QDRANT_URL",
            url,
            "must be http(s)://HOST:PORT, ':memory:' or an absolute path (local mode)",
            "set QDRANT_URL=http://qdrant:6333",
        )
    return url


def _log_level(env: Env) -> str:
    raw = env.str("LOG_LEVEL")
    if raw is None:
        return "WARNING"
    if raw.upper() not in LOG_LEVELS:
        raise fail(
            "LOG_LEVEL", raw, f"must be one of {', '.join(LOG_LEVELS)}", "set LOG_LEVEL=WARNING"
        )
    return raw.upper()


def _log_dir(env: Env) -> str | None:
    raw = env.str("ORA_LOG_DIR")
    if raw is None:
        return None
    if not raw.startswith("/"):
        raise fail("ORA_LOG_DIR", raw, "must be an absolute path", "set ORA_LOG_DIR=/opt/ora/logs")
    return raw


def _api_keys(env: Env) -> KeyRing:
    path = env.str("API_KEYS_FILE")
    if path is None:
        return KeyRing()  # no keys: every protected route answers 401
    fix = "each line must be NAME SCOPES SHA256HEX (see app/README.md)"
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise fail(
            "API_KEYS_FILE",
            path,
            f"cannot read the file ({type(error).__name__})",
            "point API_KEYS_FILE at a readable keys file",
        ) from None
    try:
        return KeyRing.parse(text)
    except KeysFileError as error:
        raise fail("API_KEYS_FILE", path, str(error), fix) from None


def _limits(env: Env) -> dict:
    def limit(name: str, default: int, high: int, what: str) -> int:
        return env.int(name, default, 1, high, f"set {name} to {what}, e.g. {default}")

    return {
        "search_requires_key": env.bool("SEARCH_REQUIRES_KEY", True),
        "diagnostic_jobs": env.bool("DIAGNOSTIC_JOBS", False),
        "write_rate_per_minute": limit("WRITE_RATE_PER_MINUTE", 120, 1_000_000, "writes per key"),
        "max_document_bytes": limit("MAX_DOCUMENT_BYTES", 65536, 8 << 20, "bytes"),
        "max_metadata_bytes": limit("MAX_METADATA_BYTES", 8192, 1 << 20, "bytes"),
        "max_job_payload_bytes": limit("MAX_JOB_PAYLOAD_BYTES", 8192, 1 << 20, "bytes"),
        "max_documents": limit("MAX_DOCUMENTS", 1_000_000, 10**9, "a document count"),
        "max_documents_per_key": limit(
            "MAX_DOCUMENTS_PER_KEY", 100_000, 10**9, "a document count per API key"
        ),
        "max_queued_jobs": limit("MAX_QUEUED_JOBS", 10_000, 10**7, "a job count"),
        "dead_letter_ttl_seconds": env.int(
            "DEAD_LETTER_TTL_SECONDS",
            7 * 24 * 3600,
            60,
            366 * 24 * 3600,
            "set DEAD_LETTER_TTL_SECONDS to seconds from 60 to a year, e.g. 604800",
        ),
    }


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build Settings from an environment mapping, or raise SettingsError."""
    env = Env(environ)
    concurrency = env.str("WEB_CONCURRENCY")
    return Settings(
        secret_key=_secret_key(env),
        allowed_hosts=_allowed_hosts(env),
        redis_url=_redis_url(env),
        qdrant_url=_qdrant_url(env),
        qdrant_api_key=env.str("QDRANT_API_KEY"),
        openai_api_key=env.str("OPENAI_API_KEY"),
        openai_model=env.str("OPENAI_EMBEDDING_MODEL") or "text-embedding-3-small",
        log_level=_log_level(env),
        port=env.int("PORT", 8000, 1, 65535, "set PORT to the listen port, e.g. 8000"),
        worker_metrics_port=env.int(
            "WORKER_METRICS_PORT",
            9100,
            1,
            65535,
            "set WORKER_METRICS_PORT to the port of the worker's /metrics, e.g. 9100",
        ),
        web_concurrency=None
        if concurrency is None
        else env.int(
            "WEB_CONCURRENCY",
            1,
            1,
            64,
            "set WEB_CONCURRENCY to a worker count, e.g. 2, or unset it",
        ),
        static_export_dir=env.str("STATIC_EXPORT_DIR"),
        log_dir=_log_dir(env),
        search_cache_ttl=env.int(
            "SEARCH_CACHE_TTL", 300, 1, 86400, "set SEARCH_CACHE_TTL to seconds, e.g. 300"
        ),
        job_visibility_timeout=env.float(
            "JOB_VISIBILITY_TIMEOUT", 60.0, "set JOB_VISIBILITY_TIMEOUT to seconds, e.g. 60"
        ),
        job_max_attempts=env.int("JOB_MAX_ATTEMPTS", 5, 1, 100, "set JOB_MAX_ATTEMPTS, e.g. 5"),
        job_backoff_base=env.float(
            "JOB_BACKOFF_BASE", 1.0, "set JOB_BACKOFF_BASE to seconds, e.g. 1"
        ),
        loop_health_interval=env.float(
            "LOOP_HEALTH_INTERVAL", 60.0, "set LOOP_HEALTH_INTERVAL to seconds, e.g. 60"
        ),
        api_keys=_api_keys(env),
        **_limits(env),
    )


def load_settings_or_exit(environ: Mapping[str, str]) -> Settings:
    """Startup entry: print the one-line error to stderr and exit 2 on bad config."""
    try:
        return load_settings(environ)
    except SettingsError as error:
        print(error, file=sys.stderr, flush=True)
        raise SystemExit(2) from None

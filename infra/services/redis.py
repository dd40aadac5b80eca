"""Redis as data, for either target: its user, port, launch script (the password from its
secret file), server settings and healthcheck. No resources here."""

from __future__ import annotations

from infra import topology
from infra.services import baseline, redis_acl
from infra.services.store import MonitoringUser, Store

UID = "999"  # the redis user of the official image
USER = f"{UID}:{UID}"
DATA_DIR = "/data"
CREDENTIAL_FILE = "redis-password"
ALIAS = topology.REDIS.host
PORT = topology.REDIS.port
AUTH_FILE = "/tmp/redis-auth.conf"
PASSWORD_FILE = topology.secret_path(CREDENTIAL_FILE)
USERS_FILE = topology.secret_path(redis_acl.USERS_FILE)


def launch_script(
    password_file: str = PASSWORD_FILE, users_file: str = USERS_FILE, auth_file: str = AUTH_FILE
) -> str:
    """The password reaches the server through a 0600 config file on tmpfs, written at
    start from its secret file: never in the container's environment (`docker inspect`)
    nor on a command line (`ps`: printf is a shell builtin). The other ACL users
    (infra/services/redis_acl.py), when their file is there, follow it."""
    return (
        f'umask 077; password="$(cat {password_file})" && [ -n "$password" ] '
        f'|| {{ echo "redis: no password in {password_file}" >&2; exit 1; }}; '
        f'printf "requirepass %s\\n" "$password" > {auth_file}; unset password; '
        f"if [ -e {users_file} ]; then cat {users_file} >> {auth_file} || exit 1; fi; "
        f'exec redis-server {auth_file} "$@"'
    )


LAUNCH = launch_script()
# redis-cli takes the password from REDISCLI_AUTH, set for that one process only.
CLI_AUTH = f'REDISCLI_AUTH="$(cat {PASSWORD_FILE})"'


def redis_args(maxmemory_mb: int) -> list[str]:
    """Server settings as arguments. Queue keys never carry a TTL and
    `volatile-lru` only evicts keys that do (the cache), so jobs are never
    evicted: when memory is full of them, writes fail loudly instead."""
    settings = [
        ("bind", "0.0.0.0"),  # noqa: S104 - reachable only on the internal network
        ("protected-mode", "yes"),
        ("port", str(PORT)),
        ("dir", DATA_DIR),
        ("appendonly", "yes"),
        ("appendfsync", "everysec"),
        ("aof-use-rdb-preamble", "yes"),
        ("save", "900 1 300 100 60 10000"),
        ("maxmemory", f"{maxmemory_mb}mb"),
        ("maxmemory-policy", "volatile-lru"),
    ]
    return [arg for key, value in settings for arg in (f"--{key}", value)]


def maxmemory_for(limit_mb: int) -> int:
    """75 % of the container limit: room for AOF rewrites and fork copy-on-write."""
    return max(16, limit_mb * 3 // 4)


HEALTHCHECK = baseline.Healthcheck(test=["CMD-SHELL", f"{CLI_AUTH} redis-cli ping | grep -q PONG"])


def command(memory_mb: int) -> list[str]:
    """The server, launched with its password from the secret file, within `memory_mb`."""
    return ["sh", "-c", LAUNCH, "redis", *redis_args(maxmemory_for(memory_mb))]


def store(memory_mb: int) -> Store:
    """Redis within `memory_mb`: the server's own user, its data in /data."""
    return Store(
        service="redis",
        alias=ALIAS,
        command=command(memory_mb),
        data_dir=DATA_DIR,
        credential_file=CREDENTIAL_FILE,
        file_owner=USER,
        healthcheck=HEALTHCHECK,
        user=USER,
        # ora:monitoring: an INFO-only user for the exporter (infra/services/redis_acl.py)
        monitoring_user=MonitoringUser(redis_acl.USERS_FILE, redis_acl.exporter_user),
    )

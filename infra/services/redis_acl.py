"""Redis's ACL users besides `default` (the app's, behind ora:redisPassword).

The metrics exporter gets a user of its own that reads INFO and nothing of the data.
What oliver006/redis_exporter sends with the flags we give it (infra/monitoring/specs.py),
from its exporter/*.go (v1.45 to v1.73): AUTH (always allowed), CLIENT SETNAME, INFO ALL,
LATENCY LATEST and HISTOGRAM, SLOWLOG LEN and GET 1. Refused on purpose:
- CONFIG GET * (we pass -config-command=-): it returns `requirepass`, the app's password;
- SLOWLOG GET: a slow command's arguments are the app's keys and values.
INFO still reports maxmemory (redis_memory_max_bytes) without CONFIG.
"""

from __future__ import annotations

import hashlib

EXPORTER_USER = "redis-exporter"
EXPORTER_COMMANDS = (
    "info",
    "ping",
    "client|setname",
    "latency|latest",
    "latency|histogram",
    "slowlog|len",
)
USERS_FILE = "redis-users"  # a secret file of Redis's (infra/targets/host/redis.py), read at start


def exporter_user(password: str) -> str:
    """The `user` directive for redis.conf: `reset` first (no keys, no channels, no
    commands), then the password's SHA-256 (Redis stores no clear text) and the commands."""
    if len(password) < 16 or any(c.isspace() for c in password):
        raise ValueError("the exporter's password must be 16+ characters without spaces")
    digest = hashlib.sha256(password.encode()).hexdigest()
    commands = " ".join(f"+{command}" for command in EXPORTER_COMMANDS)
    return f"user {EXPORTER_USER} reset on #{digest} {commands}\n"

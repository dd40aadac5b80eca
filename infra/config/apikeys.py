"""The `ora:apiKeys` secret: the API's clients, their scopes and keys.

The stack holds the keys (a Pulumi secret); the app receives only their SHA-256
hashes, one client a line, in the file its API_KEYS_FILE names (app/README.md):

    NAME SCOPES SHA256HEX        e.g.  ingest read,write 9f86d08…

The secret's value lists clients separated by white space or new lines, each
`NAME:SCOPES:KEY`, e.g. `search-ui:read:KEY1 ingest:read,write:KEY2`. Two entries
with one name-prefix (`ingest`, `ingest-next`) are how a key is rotated: both
are valid until the old entry is removed.
"""

from __future__ import annotations

import hashlib
import re

from infra.config.checks import Invalid
from infra.config.reader import Reader

SCOPES = ("read", "write", "admin")
MIN_KEY_LENGTH = 32
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
FORMAT = "NAME:SCOPES:KEY entries separated by spaces, e.g. ingest:read,write:KEY"
FIX = (
    "pulumi config set --secret ora:apiKeys (read from the prompt) with "
    f"{FORMAT}; make a key with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
)


def parse(spec: str) -> list[tuple[str, tuple[str, ...], str]]:
    """(name, scopes, key) per client; raises Invalid naming the entry, never the key."""
    clients, names, keys = [], set(), set()
    entries = spec.split()
    for number, entry in enumerate(entries, 1):
        parts = entry.split(":", 2)
        where = f"entry {number} of {len(entries)}"
        if len(parts) != 3:
            raise Invalid(f"{where} is not {FORMAT.split(' entries')[0]}", FIX)
        name, scope_text, key = parts
        where += f" ({name!r})" if NAME.match(name) else ""
        if not NAME.match(name):
            raise Invalid(f"{where}: the name must match {NAME.pattern}", FIX)
        scopes = tuple(s for s in scope_text.split(",") if s)
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown or not scopes:
            shown = ", ".join(unknown) or "(none)"
            raise Invalid(f"{where}: unknown scopes {shown}; known: {', '.join(SCOPES)}", FIX)
        if len(key) < MIN_KEY_LENGTH:
            raise Invalid(f"{where}: the key is shorter than {MIN_KEY_LENGTH} characters", FIX)
        if name in names or key in keys:
            raise Invalid(f"{where}: the name or the key is listed twice", FIX)
        names.add(name)
        keys.add(key)
        clients.append((name, scopes, key))
    if not clients:
        raise Invalid("lists no client", FIX)
    return clients


def check(r: Reader, spec: str) -> None:
    """The secret's value, when `parse` is given it (by `load`): a problem names the entry,
    never a key."""
    try:
        parse(spec)
    except Invalid as err:
        r.fail("apiKeys", "<secret>", err)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def hash_file(spec: str) -> str:
    """The app's API_KEYS_FILE: names, scopes and hashes; no key."""
    lines = ["# name scopes sha256 (rendered from ora:apiKeys; keys are never stored here)"]
    for name, scopes, key in parse(spec):
        lines.append(f"{name} {','.join(scopes)} {hash_key(key)}")
    return "\n".join(lines) + "\n"

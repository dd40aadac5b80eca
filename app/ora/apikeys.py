"""API keys: the file format, hashing and a constant-time lookup. Standard library only, so
the infrastructure side can import it without FastAPI.

The app never holds a key, only its SHA-256. The keys file (API_KEYS_FILE) has one key per
line, `NAME SCOPES SHA256HEX`, e.g. `ci read,write 9f86d0...`; blank lines and `#` comments
are ignored. Several lines may grant the same scopes: that is how a key is rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

SCOPES = ("read", "write", "admin")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
MAX_KEY_LENGTH = 512


def hash_key(key: str) -> str:
    """The SHA-256 hex digest stored in the keys file for `key`."""
    return hashlib.sha256(key.encode()).hexdigest()


def format_line(name: str, scopes: Iterable[str], key: str) -> str:
    """One line of the keys file: `NAME SCOPES SHA256HEX` (no newline)."""
    scopes = tuple(scopes)
    if not NAME_PATTERN.match(name):
        raise ValueError(f"key name {name!r} must match {NAME_PATTERN.pattern}")
    if not scopes or any(scope not in SCOPES for scope in scopes):
        raise ValueError(f"scopes {scopes!r} must be a non-empty subset of {', '.join(SCOPES)}")
    return f"{name} {','.join(scopes)} {hash_key(key)}"


class KeysFileError(ValueError):
    """A bad line in the keys file; the message names the line number, never its content."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[str]
    digest: bytes


def parse_line(line: str) -> ApiKey | None:
    """An ApiKey, None for a blank or comment line; KeysFileError (without content) else."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    fields = text.split()
    if len(fields) != 3:
        raise KeysFileError("expected 3 fields: NAME SCOPES SHA256HEX")
    name, scopes, digest = fields
    if not NAME_PATTERN.match(name):
        raise KeysFileError(f"the name must match {NAME_PATTERN.pattern}")
    granted = scopes.split(",")
    if any(scope not in SCOPES for scope in granted):
        raise KeysFileError(f"scopes must be comma-separated from {','.join(SCOPES)}")
    if not _HEX.match(digest.lower()):
        raise KeysFileError("the hash must be 64 hex digits (sha256 of the key)")
    return ApiKey(name, frozenset(granted), bytes.fromhex(digest))


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[ApiKey, ...] = ()

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        keys = []
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                key = parse_line(line)
            except KeysFileError as error:
                raise KeysFileError(f"line {number}: {error}") from None
            if key is not None:
                keys.append(key)
        return cls(tuple(keys))

    def lookup(self, presented: str) -> ApiKey | None:
        """The key whose hash matches; every key is compared, in constant time each."""
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found

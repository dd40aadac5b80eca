"""Typed readers over an injected environment mapping, and the one-line error they raise.

Empty strings count as unset. A secret variable may instead name a file: NAME_FILE.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

# Each may also come from a file: NAME_FILE holds the path (a Docker secret, a 0400 tmpfs file).
SECRET_VARIABLES = (
    "REDIS_PASSWORD",
    "QDRANT_API_KEY",
    "SECRET_KEY",
    "OPENAI_API_KEY",
)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class SettingsError(ValueError):
    """A missing or invalid environment variable; str() is the one-line message."""


def fail(
    name: str, value: str | None, problem: str, fix: str, secret: bool = False
) -> SettingsError:
    shown = "(value hidden)" if secret else repr(value)
    if value is None:
        shown = "is not set"
        return SettingsError(f"config error: {name} {shown}: {problem}; fix: {fix}")
    return SettingsError(f"config error: {name}={shown} is invalid: {problem}; fix: {fix}")


class Env:
    """Typed readers over an injected mapping; empty strings count as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def str(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        if name in SECRET_VARIABLES:
            return self._secret(name, value or None)
        return value or None

    def _secret(self, name: str, value: str | None) -> str | None:
        """NAME, or the content of the file NAME_FILE names (one trailing newline stripped)."""
        path = self._environ.get(f"{name}_FILE", "").strip() or None
        if path is None:
            return value
        if value is not None:
            raise fail(
                f"{name}_FILE", path, f"{name} is set too", f"set {name} or {name}_FILE, not both"
            )
        try:
            content = Path(path).read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise fail(
                f"{name}_FILE",
                path,
                f"cannot read the file ({type(error).__name__})",
                f"point {name}_FILE at a readable file holding the value",
            ) from None
        return content.removesuffix("\n").removesuffix("\r") or None

    def bool(self, name: str, default: bool) -> bool:
        raw = self.str(name)
        if raw is None:
            return default
        if raw.lower() not in _TRUE + _FALSE:
            raise fail(name, raw, "must be true or false", f"set {name}=true or {name}=false")
        return raw.lower() in _TRUE

    def int(self, name: str, default: int, low: int, high: int, fix: str) -> int:
        raw = self.str(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise fail(name, raw, f"must be an integer from {low} to {high}", fix)
        return value

    def float(self, name: str, default: float, fix: str) -> float:
        raw = self.str(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise fail(name, raw, "must be a positive number", fix)
        return value

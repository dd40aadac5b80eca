"""The reader every section reader takes: the stack's raw strings, each key's default
from Pulumi.yaml, and the problems found so far.

A Protocol, importing nothing of the project, so that any section module can name the
type without climbing the import graph; `raw.RawReader` is the reader `parse` uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar, overload

T = TypeVar("T")


class Reason(Protocol):
    """Why a value is refused and how to fix it (`checks.Invalid` is one)."""

    @property
    def reason(self) -> str: ...

    @property
    def fix(self) -> str: ...


class Reader(Protocol):
    """Reads a stack's raw strings, collecting problems instead of failing fast."""

    def text(self, key: str) -> str:
        """The raw string of `key`, or Pulumi.yaml's default spelled as the CLI spells it."""
        ...

    def default(self, key: str) -> str:
        """Pulumi.yaml's default of `key`, spelled as `text` spells it."""
        ...

    # get: check(text(key)), or the fallback (None without one) and a problem that shows
    # the value as repr(shown(value)).
    @overload
    def get(self, key: str, check: Callable[[str], T]) -> T | None: ...

    @overload
    def get(
        self, key: str, check: Callable[[str], T], fallback: T, shown: Callable[[str], str] = ...
    ) -> T: ...

    def fail(self, key: str, shown: str, why: Reason) -> None:
        """Records a problem of `key`, whose value the message shows as `shown`."""
        ...

    def failed(self, key: str) -> bool:
        """Whether a problem of `key` was recorded."""
        ...

"""`RawReader`: the `reader.Reader` that `parse` hands every section reader.

It reads the raw strings of one stack over Pulumi.yaml's defaults (given, not looked
up, so this module stays low in the import graph) and collects every problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from infra.config.checks import Invalid
from infra.config.reader import Reason
from infra.config.types import Problem

T = TypeVar("T")


def spelled(value: object) -> str:
    """A YAML default as the CLI spells config values: true/false, "" for none."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class RawReader:
    def __init__(self, raw: Mapping[str, str], defaults: Mapping[str, object]) -> None:
        self.raw = raw
        self.defaults = defaults  # every declared key -> its Pulumi.yaml default
        self.problems: list[Problem] = []

    def text(self, key: str) -> str:
        return spelled(self.raw.get(key, self.defaults[key]))

    def default(self, key: str) -> str:
        return spelled(self.defaults[key])

    @overload
    def get(self, key: str, check: Callable[[str], T]) -> T | None: ...

    @overload
    def get(
        self, key: str, check: Callable[[str], T], fallback: T, shown: Callable[[str], str] = ...
    ) -> T: ...

    def get(
        self,
        key: str,
        check: Callable[[str], Any],
        fallback: Any = None,
        shown: Callable[[str], str] = str,
    ) -> Any:
        value = self.text(key)
        try:
            return check(value)
        except Invalid as err:
            self.fail(key, repr(shown(value)), err)
            return fallback

    def fail(self, key: str, shown: str, why: Reason) -> None:
        self.problems.append(Problem(key, shown, why.reason, why.fix))

    def failed(self, key: str) -> bool:
        return any(p.key == key for p in self.problems)

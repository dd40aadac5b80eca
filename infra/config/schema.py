"""The config files: the `config:` block of Pulumi.yaml, the single source of every key,
its type, its description and its default; and the stack files, Pulumi.<stack>.yaml,
that hold a stack's overrides and its encrypted `secure:` values.

The Pulumi CLI applies these defaults itself; reading them here too means the
program behaves identically under the CLI and under mocks, and that a key the
schema does not declare can be rejected by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from infra import topology

PROJECT_ROOT = topology.REPO_ROOT
PROJECT_FILE = PROJECT_ROOT / "Pulumi.yaml"
NAMESPACE = "ora"


@dataclass(frozen=True)
class Key:
    name: str
    type: str
    description: str
    default: str | int | bool | None
    secret: bool

    @property
    def full_name(self) -> str:
        return f"{NAMESPACE}:{self.name}"


@cache
def keys() -> dict[str, Key]:
    project = yaml.safe_load(PROJECT_FILE.read_text())
    declared = project.get("config") or {}
    return {
        name: Key(
            name=name,
            type=spec["type"],
            description=spec["description"],
            default=spec.get("default"),
            secret=bool(spec.get("secret", False)),
        )
        for name, spec in declared.items()
    }


def secret_keys() -> list[str]:
    return [k.name for k in keys().values() if k.secret]


def stack_file(stack: str) -> Path:
    return PROJECT_ROOT / f"Pulumi.{stack}.yaml"


def defaults() -> dict[str, str | int | bool | None]:
    return {key.name: key.default for key in keys().values()}


def known_stacks() -> list[str]:
    return sorted(p.name.split(".")[1] for p in PROJECT_ROOT.glob("Pulumi.*.yaml"))


def read_stack_file(stack: str) -> tuple[dict[str, str], frozenset[str]]:
    """The plain overrides of Pulumi.<stack>.yaml, and the names of its `secure:` keys.

    For tools that run without the engine (`python -m infra.ops.render`, tests);
    secure values stay encrypted and unread.
    """
    path = stack_file(stack)
    if not path.exists():
        raise FileNotFoundError(
            f"no stack file {path.name}; known stacks: {', '.join(known_stacks())}"
        )
    overrides = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    prefix = f"{NAMESPACE}:"
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

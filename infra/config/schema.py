"""The config schema: the `config:` block of Pulumi.yaml, the single source of
every key, its type, its description and its default.

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

"""Runs infra/__main__.py under a `pulumi.runtime.Mocks`: the one way the tests
drive the program without the Pulumi engine (tests/unit records what it
declares; tests/e2e realizes it on a Docker engine)."""

from __future__ import annotations

import runpy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROGRAM = Path(__file__).resolve().parent.parent / "infra" / "__main__.py"


def run_program(
    mocks: pulumi.runtime.Mocks,
    stack: str,
    config: Mapping[str, str],
    secret_keys: Iterable[str] = (),
    program: Path = PROGRAM,
) -> dict[str, Any]:
    """Evaluates `program` for `stack` with `config` (full keys, e.g. ora:domain),
    waits for every registration, and returns the stack outputs."""
    pulumi.runtime.set_all_config(dict(config), secret_keys=list(secret_keys))
    pulumi.runtime.set_mocks(mocks, project="ora", stack=stack, preview=False)
    root = pulumi.runtime.settings.get_root_resource()
    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))
    return {
        key: _sync_await(pulumi.Output.from_input(value).future())
        for key, value in root.outputs.items()
    }

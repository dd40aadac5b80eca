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
    secret_outputs: set[str] | None = None,
) -> dict[str, Any]:
    """Evaluates `program` for `stack` with `config` (full keys, e.g. ora:domain),
    waits for every registration, and returns the stack outputs (plain values; the
    names of those marked secret are added to `secret_outputs` when given)."""
    pulumi.runtime.set_all_config(dict(config), secret_keys=list(secret_keys))
    pulumi.runtime.set_mocks(mocks, project="ora", stack=stack, preview=False)
    root = pulumi.runtime.settings.get_root_resource()
    # One root stack per process: drop the previous evaluation's exports.
    root.outputs.clear()
    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))
    outputs = {key: pulumi.Output.from_input(value) for key, value in root.outputs.items()}
    if secret_outputs is not None:
        secret_outputs.update(k for k, v in outputs.items() if _sync_await(v.is_secret()))
    return {key: _sync_await(value.future()) for key, value in outputs.items()}

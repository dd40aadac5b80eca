"""Runs infra/__main__.py under a `pulumi.runtime.Mocks`: the one way the tests
drive the program without the Pulumi engine (tests/unit records what it
declares; tests/e2e realizes it on a Docker engine).

Pulumi's mocks hand `new_resource` the inputs only; the resource options the engine
acts on (delete-before-replace, protect, dependencies and property dependencies,
replace-on-changes, ignore-changes, additional secret outputs) travel in the
registration request. `Monitor` reads them there and files them in `Mocks.options`
(when the mocks have that attribute) before `new_resource` runs, keyed by (type, name).
"""

from __future__ import annotations

import runpy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROGRAM = Path(__file__).resolve().parent.parent / "infra" / "__main__.py"


@dataclass(frozen=True)
class Options:
    """The resource options of one registration, as the engine receives them."""

    urn: str
    custom: bool
    # None: the program left it to the provider (pulumi-docker: True for containers).
    delete_before_replace: bool | None
    protect: bool
    dependencies: tuple[str, ...]  # URNs: depends_on and every input's resources
    property_dependencies: Mapping[str, tuple[str, ...]]  # input key -> URNs
    replace_on_changes: tuple[str, ...]
    ignore_changes: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...] = ()  # output names the engine stores encrypted


def options_of(request, urn: str) -> Options:
    return Options(
        urn=urn,
        custom=bool(request.custom),
        delete_before_replace=request.deleteBeforeReplace
        if request.deleteBeforeReplaceDefined
        else None,
        protect=bool(request.protect),
        dependencies=tuple(request.dependencies),
        property_dependencies={
            key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()
        },
        replace_on_changes=tuple(request.replaceOnChanges),
        ignore_changes=tuple(request.ignoreChanges),
        additional_secret_outputs=tuple(request.additionalSecretOutputs),
    )


class Monitor(MockMonitor):
    """Pulumi's mock monitor, plus the registration's options (see the module's doc)."""

    def RegisterResource(self, request):
        filed = getattr(self.mocks, "options", None)
        if filed is not None and request.type != "pulumi:pulumi:Stack":
            urn = self.make_urn(request.parent, request.type, request.name)
            filed[(request.type, request.name)] = options_of(request, urn)
        return super().RegisterResource(request)


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
    pulumi.runtime.set_mocks(
        mocks, project="ora", stack=stack, preview=False, monitor=Monitor(mocks)
    )
    root = pulumi.runtime.settings.get_root_resource()
    # One root stack per process: drop the previous evaluation's exports.
    root.outputs.clear()
    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))
    outputs = {key: pulumi.Output.from_input(value) for key, value in root.outputs.items()}
    if secret_outputs is not None:
        secret_outputs.update(k for k, v in outputs.items() if _sync_await(v.is_secret()))
    return {key: _sync_await(value.future()) for key, value in outputs.items()}

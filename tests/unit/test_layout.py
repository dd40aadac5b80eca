"""The house rules of infra/'s layout (DESIGN.md, "Layout"), on the import graph read from
the code (tests/unit/layout.py; `python -m tests.unit.layout` prints it)."""

from __future__ import annotations

import ast
import sys

import pytest

from tests.unit import layout

MAX_FLOORS = 7
MAX_LINES = 300
# Packages no program of the pure floors may reach: resources and the targets' adapters.
RESOURCE_PROVIDERS = {"pulumi_docker", "pulumi_random", "pulumi_command", "pulumi_tls"}

EDGES = layout.graph()
MODULES = layout.modules()


def importers_of(prefix: str) -> dict[str, set[str]]:
    return {m: {d for d in deps if d.startswith(prefix)} for m, deps in EDGES.items()}


def top_level_imports(module: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_no_circles_and_few_floors():
    floors = layout.floors(EDGES)  # raises on a circle, naming it
    deepest = max(floors, key=floors.get)
    assert floors[deepest] <= MAX_FLOORS, (
        f"{deepest} sits on floor {floors[deepest]} (at most {MAX_FLOORS}): "
        "python -m tests.unit.layout shows the chain"
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_the_line_limit(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module]}: {lines} lines; split it by job"


def test_topology_imports_nothing_of_the_project():
    assert not EDGES["infra.topology"]


def test_config_imports_only_config_and_topology():
    wrong = {
        m: sorted(d for d in deps if not d.startswith("infra.config") and d != "infra.topology")
        for m, deps in EDGES.items()
        if m.startswith("infra.config")
    }
    assert not {m: d for m, d in wrong.items() if d}


@pytest.mark.parametrize(
    ("target", "other"),
    [("infra.targets.swarm", "infra.targets.host"), ("infra.targets.host", "infra.targets.swarm")],
)
def test_the_targets_never_import_each_other(target, other):
    crossing = {m: sorted(d) for m, d in importers_of(other).items() if m.startswith(target) and d}
    assert not crossing


def test_services_and_monitoring_specs_create_no_resources():
    """What a service is, as data: no resource provider, no target, no bootstrap."""
    pure = [m for m in MODULES if m.startswith(("infra.services", "infra.monitoring"))]
    for module in pure:
        assert not top_level_imports(module) & RESOURCE_PROVIDERS, module
        reached = {d for d in EDGES[module] if d.startswith(("infra.targets", "infra.bootstrap"))}
        assert not reached, (module, reached)


def test_ops_is_the_top_floor():
    below = {m: sorted(d) for m, d in importers_of("infra.ops").items() if d}
    assert all(m.startswith("infra.ops") for m in below), below


def test_hosttools_use_the_standard_library_only():
    """They run under the host's own python3, installed alone: no project import either."""
    for module in (m for m in MODULES if m.startswith("infra.hosttools")):
        foreign = {
            name
            for name in top_level_imports(module)
            if name not in sys.stdlib_module_names and name != "__future__"
        }
        inside = {d for d in EDGES[module] if not d.startswith("infra.hosttools")}
        assert not foreign and not inside, (module, foreign, inside)

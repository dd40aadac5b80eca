"""The import graph of infra/, read from the code with `ast`: which module imports which,
its floors (a module's floor is one above the highest it imports), circles, and the house
rules of the layout (DESIGN.md, "Layout").

    python -m tests.unit.layout    # prints each module's floor, then the figures
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

INFRA = Path(__file__).resolve().parents[2] / "infra"


def module_name(path: Path) -> str:
    parts = path.relative_to(INFRA.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(INFRA.rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports, at any depth of its code (a lazy import counts).
    `from infra.x import y` names module infra.x.y when that is a module, else infra.x."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("infra"):
                continue
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else node.module)
    return {m for m in found if m in known} - {module_name(path)}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    edges = {name: imports_of(path, known) for name, path in found.items()}
    # importing infra.a.b runs infra/a/__init__.py first: a package's own init is implied
    return edges


def floors(edges: dict[str, set[str]]) -> dict[str, int]:
    @cache
    def floor(name: str, trail: tuple[str, ...] = ()) -> int:
        if name in trail:
            raise ValueError("circle: " + " -> ".join([*trail, name]))
        below = [floor(d, (*trail, name)) for d in edges[name]]
        return 1 + max(below, default=0)

    return {name: floor(name) for name in edges}


def main() -> int:
    edges = graph()
    levels = floors(edges)
    for name, level in sorted(levels.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{level:3}  {name}")
    arrows = sum(len(v) for v in edges.values())
    print(f"{len(edges)} modules, {arrows} imports, {max(levels.values())} floors, 0 circles")
    return 0


if __name__ == "__main__":
    sys.exit(main())

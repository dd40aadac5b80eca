"""The executables the suites start, read from their sources, and the packages that
scripts/install-test-deps.sh installs for them (its PACKAGES table)."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "scripts" / "install-test-deps.sh"
SCANNED = ("tests", "bench", "scripts")
# Calls that start a process from their first argument, subprocess's and testinfra's.
SPAWNS = frozenset(
    {"run", "Popen", "check_output", "check_call", "call", "create_subprocess_exec", "execvp"}
)
COMMAND_NAMES = frozenset({"command", "cmd", "argv", "args"})  # x = ["prog", ...]
EXECUTABLE = re.compile(r"^(/[\w./+-]+|[a-z][\w.+-]*)$")
TABLE = re.compile(r"<<'PACKAGES'\n(.*?)\nPACKAGES\n", re.S)
REQUIRE = re.compile(r"scripts/require\.sh ([^\n;&|]+)")

Started = dict[str, set[str]]  # executable -> where (path:line)


def packages(script: str) -> dict[str, tuple[str, ...]]:
    """The PACKAGES table of install-test-deps.sh: package -> the executables it gives."""
    found = TABLE.search(script)
    if not found:
        raise ValueError("no <<'PACKAGES' table in the script")
    rows = (line.split() for line in found.group(1).splitlines())
    return {row[0]: tuple(row[1:]) for row in rows if row and not row[0].startswith("#")}


def _name(word: object) -> str | None:
    if isinstance(word, str) and EXECUTABLE.match(word):
        return word.rsplit("/", 1)[-1]
    return None


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _argv0(node: ast.expr) -> str | None:
    """The program of an argv literal (["x", ...]) or of a command string ("x ...")."""
    if isinstance(node, ast.List | ast.Tuple) and node.elts:
        first = node.elts[0]
        return _name(first.value) if isinstance(first, ast.Constant) else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
        return _name(node.value.split()[0])
    return None


def _is_flag(node: ast.expr) -> bool:
    if isinstance(node, ast.JoinedStr) and node.values:  # f"--port={port}"
        node = node.values[0]
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value[:1] == "-"


def _is_command_list(node: ast.List) -> bool:
    """["prog", "--flag", ...]: a command built before it is started."""
    return len(node.elts) >= 2 and _argv0(node) is not None and _is_flag(node.elts[1])


def _is_command_assignment(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Assign)
        and isinstance(node.value, ast.List)
        and any(isinstance(t, ast.Name) and t.id in COMMAND_NAMES for t in node.targets)
    )


def started_in(source: str) -> dict[str, set[int]]:
    """Executables a Python source starts: an argv or command given to a spawning call,
    shutil.which("x"), lists assigned to `command` (or cmd, argv, args), and command lists
    (["x", "--flag", ...]) kept for later, except those handed to another function as
    data (a container's command, a main()'s argv)."""
    found: dict[str, set[int]] = defaultdict(set)
    data_lists: set[int] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        name = _call_name(node) if isinstance(node, ast.Call) else None
        if (name in SPAWNS and node.args) or (name == "which" and node.args):
            program = _argv0(node.args[0])
            if program:
                found[program].add(node.lineno)
        elif isinstance(node, ast.Call) and name not in SPAWNS:
            data_lists.update(id(arg) for arg in node.args if isinstance(arg, ast.List))
        if _is_command_assignment(node):
            program = _argv0(node.value)
            if program:
                found[program].add(node.lineno)
    for node in ast.walk(tree):
        if isinstance(node, ast.List) and id(node) not in data_lists and _is_command_list(node):
            program = _argv0(node)
            if program:
                found[program].add(node.lineno)
    return found


def required_in_makefile(makefile: str) -> set[str]:
    """The tools the Makefile's targets check with scripts/require.sh."""
    return {tool for line in REQUIRE.findall(makefile) for tool in line.split()}


def started(root: Path = ROOT, dirs: Iterable[str] = SCANNED) -> Started:
    """Every executable the suites, benchmarks and make targets start, with where."""
    found: Started = defaultdict(set)
    for directory in dirs:
        for path in sorted((root / directory).rglob("*.py")):
            where = path.relative_to(root)
            for program, lines in started_in(path.read_text()).items():
                found[program].update(f"{where}:{line}" for line in lines)
    for tool in required_in_makefile((root / "Makefile").read_text()):
        found[tool].add("Makefile (scripts/require.sh)")
    return found


def unlisted(started: Started, table: dict[str, tuple[str, ...]], known: dict[str, str]) -> Started:
    """The started executables that no package of `table` gives and `known` (executable
    -> where it comes from instead) does not explain."""
    listed = {exe for executables in table.values() for exe in executables}
    return {exe: where for exe, where in started.items() if exe not in listed | known.keys()}

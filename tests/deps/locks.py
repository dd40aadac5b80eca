"""The hash locks and the pins they are compiled from, read as data (no I/O but reading)."""

import re
from dataclasses import dataclass
from pathlib import Path

from tests.deps.pins import ROOT

# Each lock with the file it is compiled from (scripts/lock-deps.sh).
LOCKS = {"requirements.lock": "requirements.txt", "app/requirements.lock": "app/requirements.txt"}
_NAME = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?(?P<spec>\S*)")


@dataclass(frozen=True)
class Entry:
    name: str
    spec: str  # "==1.2.3", or whatever else the line says
    hashes: tuple[str, ...]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(text: str) -> list[Entry]:
    """One entry per requirement; backslash continuations joined, comments dropped."""
    logical = re.sub(r"\\\n", " ", text)
    found = []
    for line in logical.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = _NAME.match(line)
        assert match, f"not a requirement: {line!r}"
        hashes = tuple(re.findall(r"--hash=(\S+)", line))
        found.append(Entry(norm(match["name"]), match["spec"].split(";")[0], hashes))
    return found


def pins(path: Path) -> dict[str, str]:
    """`name==version` of a requirements file and every file it includes with -r."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found |= pins(path.parent / line[3:].strip())
        elif "==" in line:
            match = _NAME.match(line)
            found[norm(match["name"])] = match["spec"].removeprefix("==")
    return found


def locked(rel: str) -> dict[str, str]:
    return {e.name: e.spec.removeprefix("==") for e in entries((ROOT / rel).read_text())}

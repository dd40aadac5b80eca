"""Every pin in the repository, found by plain patterns, and every dependency Renovate extracts.

The scan is independent of renovate.json on purpose: a pin it finds that Renovate does not
extract is a pin nobody would ever update.
"""

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_HEX64 = "[a-f0-9]{64}"

_PATTERNS = {
    "python": re.compile(
        r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<value>[^\s;#]+)"
    ),
    "image digest": re.compile(
        rf"(?P<name>[a-z0-9][a-z0-9./_-]*):\w[\w.-]*@(?P<value>sha256:{_HEX64})"
    ),
    "action": re.compile(r"uses:\s*(?P<name>[\w.-]+/[\w.-]+)(/[\w./-]+)?@(?P<value>[0-9a-f]{40})"),
    "base image": re.compile(r"^ARG \w*IMAGE=(?P<name>[a-z0-9./_-]+):(?P<value>[\w.-]+)"),
    "tool": re.compile(r"^(?P<name>[A-Z][A-Z_]*)_VERSION=(?P<value>[0-9][\w.-]*)$"),
}


@dataclass(frozen=True, order=True)
class Pin:
    file: str
    name: str
    value: str


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def scan_text(path: str, text: str) -> set[Pin]:
    """The pins of one file's text; pure."""
    found = set()
    for line in text.splitlines():
        for kind, pattern in _PATTERNS.items():
            if kind == "tool" and not path.endswith(".sh"):
                continue
            for match in pattern.finditer(line):
                found.add(Pin(path, _norm(match["name"]), match["value"]))
    return found


def scan_repo(root: Path = ROOT) -> set[Pin]:
    """The pins of every file git tracks (what Renovate sees)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
    ).stdout
    pins = set()
    for rel in filter(None, listed.decode().split("\0")):
        path = root / rel
        if not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        pins |= scan_text(rel, text)
    return pins


# A package Renovate knows in a lock it regenerates (pip-compile): any version counts.
LOCKED = "(regenerated lock)"


def extracted(report: dict) -> set[Pin]:
    """Renovate's report (--report-type=file) as pins: every value a dependency is pinned at,
    under its depName and, for the tool variables, under the variable too; and every
    package of a lock file Renovate regenerates, direct or indirect."""
    pins = set()
    for repo in report["repositories"].values():
        for files in repo["packageFiles"].values():
            for package_file in files:
                for dep in package_file["deps"]:
                    for lock in package_file.get("lockFiles") or ():
                        pins.add(Pin(lock, _norm(dep["depName"]), LOCKED))
                    for value in (dep.get("currentDigest"), dep.get("currentValue")):
                        if value:
                            pins.add(Pin(package_file["packageFile"], _norm(dep["depName"]), value))
                            pins.add(Pin(package_file["packageFile"], "*", value.lstrip("=")))
    return pins


def missed(scanned: set[Pin], found: set[Pin]) -> list[Pin]:
    """The scanned pins Renovate does not extract; tool variables match on file and value,
    a lock's pins on file and package."""
    return sorted(
        pin
        for pin in scanned
        if pin not in found
        and Pin(pin.file, pin.name, "==" + pin.value) not in found
        and Pin(pin.file, "*", pin.value) not in found
        and Pin(pin.file, pin.name, LOCKED) not in found
    )


def run_extract(renovate_bin: Path, repo: Path, report_path: Path) -> dict:
    """Renovate's own extraction, offline: local platform, dry-run=extract, a JSON report."""
    done = subprocess.run(
        [
            str(renovate_bin / "renovate"),
            "--platform=local",
            "--onboarding=false",
            "--require-config=required",
            "--dry-run=extract",
            "--report-type=file",
            f"--report-path={report_path}",
        ],
        cwd=repo,
        env={
            "PATH": f"{renovate_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(report_path.parent),
            "LOG_LEVEL": "warn",
            "RENOVATE_BASE_DIR": str(report_path.parent / "renovate-base"),
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(report_path.read_text())

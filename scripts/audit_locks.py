"""Audit the hash locks against PyPI's advisory data; `make lint` runs it.

PyPI's JSON API lists the known vulnerabilities of a release (`vulnerabilities`, from the
PyPA advisory database and OSV). Each locked release is looked up at /pypi/NAME/VERSION/json;
where that answers 404 (the index these machines reach serves only the project document),
/pypi/NAME/json is used when the locked version is the latest, whose vulnerabilities that
document carries. A release neither answers for is reported as not audited, and fails the
audit under --strict. pip-audit's PyPI service reads the same per-release document, and skips
every package where it is missing.

A vulnerability that does not apply is listed in audit-ignore.txt, one `ID  reason` a line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

INDEX = "https://pypi.org/pypi"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)

Fetch = Callable[[str], dict | None]  # URL -> JSON document, None on 404


@dataclass(frozen=True)
class Finding:
    name: str
    version: str
    vuln_id: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]


def locked(text: str) -> dict[str, str]:
    """The `name==version` pins of a lock, by normalized name."""
    return {re.sub(r"[-_.]+", "-", m[1]).lower(): m[2] for m in _PIN.finditer(text)}


def ignores(text: str) -> dict[str, str]:
    """audit-ignore.txt: `ID reason`; a line without a reason is an error."""
    found = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        vuln_id, _, reason = line.partition(" ")
        if not reason.strip():
            raise ValueError(f"audit-ignore.txt:{number}: {vuln_id} has no reason")
        found[vuln_id] = reason.strip()
    return found


def lookup(name: str, version: str, fetch: Fetch) -> tuple[list[Finding], str | None]:
    """The findings of one release, or why it could not be audited."""
    document = fetch(f"{INDEX}/{name}/{version}/json")
    if document is None:
        document = fetch(f"{INDEX}/{name}/json")
        if document is None:
            return [], "not on the index"
        latest = document["info"]["version"]
        if latest != version:
            return [], f"no per-release data and {latest} is the latest"
    return [
        Finding(
            name,
            version,
            vuln["id"],
            tuple(vuln.get("aliases") or ()),
            tuple(vuln.get("fixed_in") or ()),
        )
        for vuln in document.get("vulnerabilities") or []
    ], None


def fetch_json(url: str) -> dict | None:
    try:
        # Only the https INDEX URLs built above reach here.
        with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310
            return json.load(answer)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def main(argv: list[str] | None = None, fetch: Fetch = fetch_json) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("locks", nargs="+", type=Path)
    parser.add_argument("--ignore", type=Path, default=Path("audit-ignore.txt"))
    parser.add_argument("--strict", action="store_true", help="fail on a release not audited")
    args = parser.parse_args(argv)
    ignored = ignores(args.ignore.read_text()) if args.ignore.exists() else {}
    releases = {}
    for lock in args.locks:
        releases |= locked(lock.read_text())
    with ThreadPoolExecutor(8) as pool:
        answers = pool.map(lambda pin: lookup(*pin, fetch), releases.items())
        results = dict(zip(releases, answers, strict=True))
    findings = [finding for found, _ in results.values() for finding in found]
    skipped = {name: why for name, (_, why) in results.items() if why}
    live = []
    for finding in findings:
        ids = {finding.vuln_id, *finding.aliases}
        reason = next((ignored[i] for i in sorted(ids) if i in ignored), None)
        state = (
            f"ignored: {reason}"
            if reason
            else "FIX: upgrade to " + (", ".join(finding.fixed_in) or "(no fixed release)")
        )
        print(f"{finding.name} {finding.version} {finding.vuln_id} {state}")
        live += [] if reason else [finding]
    for name, why in sorted(skipped.items()):
        print(f"not audited: {name} {releases[name]}: {why}")
    print(
        f"audit: {len(releases)} locked releases, {len(releases) - len(skipped)} audited, "
        f"{len(findings)} known vulnerabilities ({len(findings) - len(live)} ignored), "
        f"{len(skipped)} not audited"
    )
    return 1 if live or (args.strict and skipped) else 0


if __name__ == "__main__":
    sys.exit(main())

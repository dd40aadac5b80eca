#!/usr/bin/python3
"""ora-cleanup: the host's weekly cleanup, installed as /usr/local/sbin/ora-cleanup.

Images: the repositories of the images that the stack's containers (label org.ora.stack)
run are the stack's repositories. In each, every image a container uses stays, and so do
the newest --keep images no container uses: the previous deployments, what a rollback
(an older appImage or pinned image) starts again without a registry. Older ones go, with
`docker image rm` without force, so an image a container started meanwhile stays. Images
of other repositories are not the stack's and are left alone; dangling layers and build
cache older than a week go. Logs: rotated files under /opt/ora/logs older than --log-days,
and the journal beyond that age.

The standard library only: it runs under the host's own python3. `--dry-run` prints the
plan and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

KEEP_PREVIOUS = 2
LOG_DIR = Path("/opt/ora/logs")
LOG_DAYS = 30
BUILD_CACHE_AGE = "168h"
STACK_LABEL = "org.ora.stack"
ROTATED = re.compile(r"\.log\.\d+(\.gz)?$")  # logrotate's name.log.1, name.log.2.gz


@dataclass(frozen=True)
class Image:
    id: str
    references: tuple[str, ...]  # RepoTags and RepoDigests
    created: str  # as Docker reports it (RFC 3339)

    @property
    def repositories(self) -> frozenset[str]:
        return frozenset(repository(r) for r in self.references)


@dataclass(frozen=True)
class Plan:
    kept: dict[str, str]  # image id -> why it stays
    removed: tuple[Image, ...]


def repository(reference: str) -> str:
    """'ghcr.io:5000/o/app:1@sha256:…' -> 'ghcr.io:5000/o/app'; 'redis:7.4' -> 'redis'."""
    name = reference.split("@", 1)[0]
    head, slash, last = name.rpartition("/")
    return head + slash + last.split(":", 1)[0]


def instant(created: str) -> datetime:
    """Docker's timestamps (0 to 9 fraction digits, Z) as datetime reads them (6 digits)."""
    micro = re.sub(r"\.(\d+)", lambda m: "." + (m[1] + "000000")[:6], created)
    return datetime.fromisoformat(micro.replace("Z", "+00:00"))


def plan(images: list[Image], used: set[str], stack_used: set[str], keep: int) -> Plan:
    """Pure: which images stay (and why) and which go."""
    repositories = set().union(*(i.repositories for i in images if i.id in stack_used))
    kept = {i.id: "used by a container" for i in images if i.id in used}
    for repo in sorted(repositories):
        unused = [i for i in images if repo in i.repositories and i.id not in used]
        unused.sort(key=lambda i: instant(i.created), reverse=True)
        for image in unused[:keep]:
            kept.setdefault(image.id, f"one of the {keep} newest unused of {repo} (rollback)")
    removed = tuple(i for i in images if i.repositories & repositories and i.id not in kept)
    return Plan(kept, removed)


def old_logs(files: list[tuple[Path, float]], now: float, days: int) -> list[Path]:
    """Rotated log files (never the live ones) last written more than `days` ago."""
    cutoff = now - days * 86400
    return [path for path, mtime in files if ROTATED.search(path.name) and mtime < cutoff]


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def _inspect(kind: str, ids: list[str]) -> list[dict]:
    return json.loads(_docker(kind, "inspect", *ids)) if ids else []


def gather() -> tuple[list[Image], set[str], set[str]]:
    containers = _inspect("container", _docker("ps", "-aq", "--no-trunc").split())
    used = {c["Image"] for c in containers}
    stack_used = {c["Image"] for c in containers if STACK_LABEL in (c["Config"]["Labels"] or {})}
    images = [
        Image(i["Id"], tuple((i["RepoTags"] or []) + (i["RepoDigests"] or [])), i["Created"])
        for i in _inspect("image", sorted(set(_docker("image", "ls", "-q", "--no-trunc").split())))
    ]
    return images, used, stack_used


def _run(command: list[str], dry_run: bool) -> None:
    print(("would run: " if dry_run else "$ ") + " ".join(command), flush=True)
    if not dry_run:
        done = subprocess.run(command, capture_output=True, text=True)
        print((done.stdout + done.stderr).strip(), flush=True)
        if done.returncode:
            print(f"ora-cleanup: {command[:3]} exited {done.returncode}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ora-cleanup", description=__doc__.split("\n\n")[1])
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--keep", type=int, default=KEEP_PREVIOUS, help="unused images kept")
    parser.add_argument("--log-dir", type=Path, default=LOG_DIR)
    parser.add_argument("--log-days", type=int, default=LOG_DAYS)
    parser.add_argument("--no-journal", action="store_true", help="leave the journal alone")
    parser.add_argument("--images-only", action="store_true", help="images and build cache only")
    args = parser.parse_args(argv)
    if args.keep < 1:
        parser.error(f"--keep = {args.keep}: a rollback needs at least 1. Fix: --keep 2")
    result = plan(*gather(), keep=args.keep)
    for image_id, reason in sorted(result.kept.items()):
        print(f"keep    {image_id[7:19]}  {reason}")
    for image in result.removed:
        print(f"remove  {image.id[7:19]}  {' '.join(image.references)}")
        _run(["docker", "image", "rm", *image.references], args.dry_run)
    _run(["docker", "image", "prune", "--force"], args.dry_run)
    _run(
        ["docker", "builder", "prune", "--force", "--filter", f"until={BUILD_CACHE_AGE}"],
        args.dry_run,
    )
    if args.images_only:
        return 0
    files = [(p, p.stat().st_mtime) for p in args.log_dir.glob("*") if p.is_file()]
    for path in old_logs(files, time.time(), args.log_days):
        print(("would delete " if args.dry_run else "delete ") + str(path))
        if not args.dry_run:
            path.unlink(missing_ok=True)
    if not args.no_journal and shutil.which("journalctl"):
        _run(["journalctl", f"--vacuum-time={args.log_days}d"], args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Text for the operator: the table of backups, and the counts of the live stack."""

from __future__ import annotations

import json

from .manifest import COUNTS

HEADER = (
    "NAME", "TIME (UTC)", "SIZE", "COLLECTIONS", "POINTS", "REDIS KEYS", "APP FILES",
    "APP BYTES", "SNAPSHOT",
)  # fmt: skip


def human(size: int) -> str:
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def table(snapshots_json: str) -> str:
    """`restic snapshots --json` of the stack as a table, oldest first: a backup's name,
    time, size before dedup and counts come from its tags."""
    snapshots = sorted(json.loads(snapshots_json) or [], key=lambda s: s["time"])
    rows = [HEADER]
    for snapshot in snapshots:
        tags = dict(t.split("=", 1) for t in snapshot.get("tags", []) if "=" in t)
        size = human(int(tags["bytes"])) if tags.get("bytes", "").isdigit() else "?"
        counts = [tags.get(key, "?") for key in COUNTS]
        time = snapshot["time"][:19].replace("T", " ")
        rows.append((tags.get("name", "?"), time, size, *counts, snapshot["short_id"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    return "".join(line.rstrip() + "\n" for line in lines)


def counts_line(keys: str, usage: tuple[str, str], qdrant: dict) -> str:
    """`N collections, P points; K redis keys; F files, B bytes of app data; aliases: …`"""
    found, aliases = qdrant.get("collections", {}), qdrant.get("aliases", {})
    shown = ", ".join(f"{a} -> {c}" for a, c in sorted(aliases.items())) or "none"
    files, size = usage
    return (
        f"{len(found)} collections, {sum(found.values())} points; {keys} redis keys; "
        f"{files} files, {size} bytes of app data; aliases: {shown}"
    )

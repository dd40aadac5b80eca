"""Copy the shipped static assets to STATIC_EXPORT_DIR (a volume nginx serves)."""

from __future__ import annotations

import shutil
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"


def export_static(target: str | Path) -> list[str]:
    """Copy every asset (atomically per file, so nginx never serves half a file)."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for source in sorted(STATIC_DIR.iterdir()):
        if not source.is_file():
            continue
        partial = target / f".{source.name}.partial"
        shutil.copyfile(source, partial)
        partial.chmod(0o644)
        partial.replace(target / source.name)
        copied.append(source.name)
    return copied

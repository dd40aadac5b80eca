"""Why a backup of the drill's data adds so much when 1 % of it changed, and what restic
costs next to tar: real restic on local files, no Docker (the drill itself is
`make backup-drill`).

The data is N fixed-size random records in one file (like Qdrant's vectors or a Redis RDB:
incompressible, one record after another). Each scenario backs it up into a fresh
repository, rewrites 1 % of the records, backs up again, and reports the second backup's
added bytes / the first's (the drill's goal: <= 0.1):
  spread     every 100th record rewritten in place (what the drill's change() does);
  clustered  1 % of the records, contiguous, rewritten in place;
  appended   1 % rewritten as new records at the end (how an append-only store such as
             Qdrant's segments or a Redis AOF grows).
It also times restic backup against tar of the same file (the drill's goal: <= 1.5), with
restic's compression auto and off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECORDS = int(os.environ.get("ORA_BENCH_RECORDS", "65536"))
RECORD = 1024  # bytes: a 256-dimension float32 vector
FRACTION = 0.01


def restic(repository: Path, password: Path, *args: str) -> str:
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": str(repository),
        "RESTIC_PASSWORD_FILE": str(password),
    }
    return subprocess.run(
        ["restic", *args], env=env, capture_output=True, text=True, check=True
    ).stdout


def backup(repository: Path, password: Path, data: Path, *flags: str) -> tuple[float, int]:
    started = time.perf_counter()
    out = restic(repository, password, "backup", "--json", *flags, str(data))
    summary = json.loads(out.strip().splitlines()[-1])
    return time.perf_counter() - started, summary["data_added"]


def mutate(path: Path, how: str) -> None:
    changed = int(RECORDS * FRACTION)
    with path.open("r+b") as handle:
        if how == "spread":
            for i in range(0, RECORDS, RECORDS // changed):
                handle.seek(i * RECORD)
                handle.write(os.urandom(RECORD))
        elif how == "clustered":
            handle.seek(RECORDS // 2 * RECORD)
            handle.write(os.urandom(changed * RECORD))
        else:
            handle.seek(0, 2)
            handle.write(os.urandom(changed * RECORD))


def scenario(base: Path, password: Path, how: str) -> float:
    data = base / how
    data.mkdir()
    (data / "records.bin").write_bytes(os.urandom(RECORDS * RECORD))
    repository = base / f"repo-{how}"
    restic(repository, password, "init")
    _, first = backup(repository, password, data)
    mutate(data / "records.bin", how)
    _, second = backup(repository, password, data)
    return second / first


def timings(base: Path, password: Path) -> dict[str, float]:
    data = base / "timed"
    data.mkdir()
    (data / "records.bin").write_bytes(os.urandom(RECORDS * RECORD))
    started = time.perf_counter()
    subprocess.run(["tar", "-cf", str(base / "timed.tar"), "-C", str(data), "."], check=True)
    result = {"tar": time.perf_counter() - started}
    for compression in ("auto", "off"):
        repository = base / f"repo-timed-{compression}"
        restic(repository, password, "init")
        result[compression], _ = backup(repository, password, data, f"--compression={compression}")
    return result


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="ora-backup-bench-"))
    try:
        password = base / "password"
        password.write_text("bench-password-0123456789\n")
        print(f"{RECORDS} records of {RECORD} B ({RECORDS * RECORD >> 20} MiB), 1 % changed")
        for how in ("spread", "clustered", "appended"):
            ratio = scenario(base, password, how)
            print(f"  {how:9}  second backup added / first: {ratio:.3f}  (goal <= 0.1)")
        times = timings(base, password)
        for compression in ("auto", "off"):
            print(
                f"  restic backup (compression {compression}) {times[compression]:.2f} s"
                f" / tar {times['tar']:.2f} s = {times[compression] / times['tar']:.2f}"
                " (goal <= 1.5)"
            )
    finally:
        shutil.rmtree(base)
    return 0


if __name__ == "__main__":
    sys.exit(main())

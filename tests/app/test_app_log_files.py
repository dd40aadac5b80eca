"""ORA_LOG_DIR: many real processes share one log file and rotate it at 1 MB x 3.

Each writer script configures logging as gunicorn's master does (ora.logs.logging_config)
and then forks its writers, as gunicorn forks its workers; two scripts run at once, as two
replicas share the volume. Every line carries (writer, seq), so a lost or duplicated line
shows."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from ora.logs import LOG_FILE_BACKUPS, LOG_FILE_MAX_BYTES, logging_config

from tests.app.conftest import APP_DIR

FORKS = 4  # writers per script ("gunicorn workers")
SCRIPTS = 2  # scripts at once ("replicas")
PAD = "x" * 400  # ~520 B a line

WRITER = """
import logging, logging.config, os, sys
sys.path.insert(0, {app!r})
from ora.logs import log, logging_config
logging.config.dictConfig(logging_config("INFO", {log_dir!r}, {stream!r}))
children = []
for fork in range({forks}):
    pid = os.fork()
    if pid == 0:
        logger = logging.getLogger({logger!r})
        for seq in range({lines}):
            log(logger, logging.INFO, "line", writer=f"{script}-{{fork}}", seq=seq, pad={pad!r})
        os._exit(0)
    children.append(pid)
sys.exit(max(os.waitpid(pid, 0)[1] for pid in children))
"""


def write(log_dir: Path, lines: int, stream: str = "app", logger: str = "ora.api") -> None:
    scripts = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER.format(
                    app=str(APP_DIR),
                    log_dir=str(log_dir),
                    stream=stream,
                    forks=FORKS,
                    logger=logger,
                    lines=lines,
                    script=script,
                    pad=PAD,
                ),
            ],
            stdout=subprocess.DEVNULL,
        )
        for script in range(SCRIPTS)
    ]
    assert [p.wait(timeout=300) for p in scripts] == [0] * SCRIPTS


def files(log_dir: Path, stream: str) -> list[Path]:
    """The live file and its backups, oldest first."""
    backups = sorted(log_dir.glob(f"{stream}.log.*"), key=lambda p: -int(p.suffix[1:]))
    return [*backups, log_dir / f"{stream}.log"]


def seqs_by_writer(paths: list[Path]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = defaultdict(list)
    for path in paths:
        for line in path.read_text().splitlines():
            entry = json.loads(line)  # a torn or interleaved line fails here
            found[entry["writer"]].append(entry["seq"])
    return found


def test_many_processes_rotating_one_file_lose_and_duplicate_no_line(tmp_path):
    lines = 850  # 8 writers x 850 x ~520 B: ~3.5 MB, 3 rotations, nothing deleted yet
    write(tmp_path, lines)
    paths = files(tmp_path, "app")
    assert [p.name for p in paths] == ["app.log.3", "app.log.2", "app.log.1", "app.log"]
    found = seqs_by_writer(paths)
    assert len(found) == FORKS * SCRIPTS
    for writer, seqs in found.items():
        assert sorted(seqs) == list(range(lines)), writer  # none lost, none twice


def test_rotation_keeps_three_backups_of_at_most_about_one_mb(tmp_path):
    lines = 1500  # ~6 MB through a 4 MB window: the oldest backups are deleted
    write(tmp_path, lines)
    paths = files(tmp_path, "app")
    assert len(paths) == 1 + LOG_FILE_BACKUPS, sorted(p.name for p in tmp_path.iterdir())
    longest = max(len(line) + 1 for p in paths for line in p.read_text().splitlines())
    for path in paths:
        # The handler rotates before a write once the file has reached maxBytes.
        assert path.stat().st_size < LOG_FILE_MAX_BYTES + longest, path.name
    # What is kept is each writer's most recent lines, without a gap.
    for writer, seqs in seqs_by_writer(paths).items():
        assert sorted(seqs) == list(range(min(seqs), lines)), writer


@pytest.mark.parametrize(
    ("stream", "logger", "expected"),
    [
        ("worker", "ora.worker", "worker.log"),
        ("worker", "ora.scheduler", "scheduler.log"),
        ("app", "uvicorn.access", "app.log"),
    ],
)
def test_each_logger_writes_its_stream(tmp_path, stream, logger, expected):
    write(tmp_path, 1, stream=stream, logger=logger)
    written = sorted(p.name for p in tmp_path.glob("*.log"))
    assert written == [expected]
    assert len((tmp_path / expected).read_text().splitlines()) == FORKS * SCRIPTS


def test_without_a_log_dir_lines_go_to_stdout_only():
    config = logging_config("INFO")
    assert list(config["handlers"]) == ["stdout"]
    assert config["loggers"]["ora.scheduler"]["handlers"] == ["stdout"]

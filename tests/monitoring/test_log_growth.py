"""Log growth is counted in bytes written, per stream, across rotation: Python's
RotatingFileHandler (as for the operators' `scheduler.log`) rotates each file several times
while the real mtail (the rendered `logs.mtail`) follows it and the real Prometheus scrapes it
(the rendered `prometheus.yml`, which names the stream after the file)."""

import logging
import logging.handlers
import time

import pytest

from infra import config
from tests.monitoring import chain

pytestmark = pytest.mark.slow
STREAMS = ("app", "worker", "scheduler")
# Small files, so that each stream rotates several times and drops its oldest files; each
# file still lives longer than mtail's poll interval (250 ms here): a file created and
# rotated away between two polls is never read (4 KB files rotating 4 times a second lost
# 31 % of the bytes). At the stack's 1 MB files that would take over 4 MB/s of logging.
MAX_BYTES = 8 * 1024
BACKUPS = 3
LINES = 600
PAUSE = 0.01  # seconds between rounds of lines: a file lives about 0.7 s


def line(stream: str, number: int) -> str:
    return (
        f'{{"level":"WARNING","logger":"ora.{stream}","msg":"entry {number}","pad":"{"x" * 60}"}}'
    )


def test_bytes_written_survive_rotation_without_reset_or_double_count(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    paths = {stream: logs / f"{stream}.log" for stream in STREAMS}
    for path in paths.values():
        path.touch()
    stack_config = config.offline("dev")
    running = chain.start(stack_config, tmp_path, "", logs=[str(p) for p in paths.values()])
    loggers, written = {}, dict.fromkeys(STREAMS, 0)
    try:
        for stream, path in paths.items():
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=MAX_BYTES, backupCount=BACKUPS
            )
            logger = logging.getLogger(f"test-log-growth-{stream}")
            logger.propagate = False
            logger.addHandler(handler)
            loggers[stream] = (logger, handler)
        for number in range(LINES):
            for stream in STREAMS:
                if stream == "app" and number % 3 == 0:
                    continue  # the streams grow at different rates
                text = line(stream, number)
                loggers[stream][0].warning(text)
                written[stream] += len(text.encode()) + 1
            time.sleep(PAUSE)
        for logger, handler in loggers.values():
            handler.close()
            logger.removeHandler(handler)

        def counted() -> dict[str, float]:
            result = running.query("ora_log_bytes_total")
            return {r["metric"].get("stream"): float(r["value"][1]) for r in result}

        deadline = time.monotonic() + 30
        while counted() != written and time.monotonic() < deadline:
            time.sleep(0.5)
        assert counted() == written, f"{counted()} != {written}\n{running.diagnose()}"
        on_disk = {s: sum(f.stat().st_size for f in logs.glob(f"{s}.log*")) for s in STREAMS}
        rotations = {s: len(list(logs.glob(f"{s}.log.*"))) for s in STREAMS}
        print(f"\nbytes written {written}, counted {counted()}, on disk {on_disk}")
        assert all(rotations[s] == BACKUPS for s in STREAMS), rotations
        assert all(on_disk[s] < written[s] for s in STREAMS), "no file was dropped: no test"
        # Prometheus saw the counter go up only, through every rotation.
        resets = running.query("resets(ora_log_bytes_total[5m])")
        assert {r["metric"]["stream"]: r["value"][1] for r in resets} == dict.fromkeys(STREAMS, "0")
    finally:
        running.stop()

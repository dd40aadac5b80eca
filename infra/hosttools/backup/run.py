"""One run of the command: its settings, tools, clock, and what it must undo or report
when it fails (the containers it stopped, a rollback's recovery hint, the metric)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from .docker import Docker
from .messages import Output
from .restic import Restic
from .runner import Runner
from .settings import Settings


class Clock:
    """Whole seconds since the run began (bash's SECONDS), and wall-clock microseconds."""

    def __init__(self) -> None:
        self._began = time.monotonic()
        self.started_at = int(time.time())

    def seconds(self) -> int:
        return int(time.monotonic() - self._began)

    @staticmethod
    def micros() -> int:
        return time.time_ns() // 1000

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds)


def seconds_since(then_micros: int, now_micros: int) -> str:
    """Seconds between two clock readings, to a tenth: `1.3`."""
    tenths = (now_micros - then_micros + 50_000) // 100_000
    return f"{tenths // 10}.{tenths % 10}"


@dataclass
class Run:
    settings: Settings
    output: Output
    runner: Runner = field(default_factory=Runner)
    clock: Clock = field(default_factory=Clock)
    cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    metric: bool = False  # a create run writes ora_backup.prom, success or not
    stopped: list[str] = field(default_factory=list)
    recovery: str = ""

    @property
    def restic(self) -> Restic:
        return Restic(self.settings, self.runner, self.output)

    @property
    def docker(self) -> Docker:
        return Docker(self.settings, self.runner)

    @property
    def prog(self) -> str:
        return self.output.prog

    def say(self, message: str) -> None:
        self.output.say(message)

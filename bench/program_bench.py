"""How long evaluating each stack's program takes under Pulumi's mocks.

Baseline, measured in the same run: a one-container Pulumi program under the
same mocks, so the ratio says how many "containers' worth" of engine work the
whole program costs, independent of the machine's speed.
Goal: each stack evaluates in at most 2 s.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra import config
from tests.unit import program

ROUNDS = 7
GOAL_SECONDS = 2.0


def one_container() -> None:
    import pulumi_docker as docker

    pulumi.runtime.set_mocks(program.Recorder(program.Declared()), project="ora", stack="bench")
    _sync_await(run_pulumi_func(lambda: docker.Container("c", image="busybox:1.36")))


def timed(fn) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    baseline = timed(one_container)
    print(f"baseline (one container under mocks): {baseline * 1000:.1f} ms (median of {ROUNDS})")
    worst = 0.0
    for stack in config.known_stacks():
        seconds = timed(lambda stack=stack: program.evaluate(stack))
        worst = max(worst, seconds)
        print(f"stack {stack:5s}: {seconds * 1000:7.1f} ms  = {seconds / baseline:5.1f} x baseline")
    verdict = "meets" if worst <= GOAL_SECONDS else "misses"
    print(f"slowest stack {worst:.3f} s {verdict} the goal of {GOAL_SECONDS:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

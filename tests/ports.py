"""TCP ports for the servers the tests and benchmarks start, from one allocator.

A port the kernel picks for `bind(0)` is free only until the probe closes: the next
`bind(0)` may return it again, and any outgoing connection may take it as its source
port. So every port here comes from below the kernel's ephemeral range (outgoing
connections never use those), is handed out at most once per process (a run's servers
never share one), and is checked bindable on 0.0.0.0 and every given address first.
Each process starts at its own random point of the range, so two runs on one machine
rarely try the same ports, and never both get one that either has bound."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
POOL_SIZE = 10_000
LOWEST = 1024  # below: privileged ports


def ephemeral_range(path: Path = EPHEMERAL_RANGE) -> tuple[int, int]:
    """The kernel's range for outgoing source ports (Linux's default when unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        low, high = (int(n) for n in path.read_text().split())
        return low, high
    return 32768, 60999


def pool(ephemeral: tuple[int, int]) -> range:
    """The ports the allocator hands out: below the ephemeral range, else above it."""
    low, high = ephemeral
    if low - LOWEST >= POOL_SIZE // 10:
        return range(max(LOWEST, low - POOL_SIZE), low)
    if 65535 - high >= POOL_SIZE // 10:
        return range(high + 1, min(65536, high + 1 + POOL_SIZE))
    raise RuntimeError(f"no room outside the ephemeral ports {low}-{high} for test servers")


def bindable(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
        return True


class Allocator:
    def __init__(self, ports: range, start: int | None = None) -> None:
        self.ports = ports
        self.next = ports.start + (random.randrange(len(ports)) if start is None else start)
        self.given: set[int] = set()
        self.lock = threading.Lock()

    def allocate(self, *addresses: str) -> int:
        """A port no other caller in this process got, bindable on every address now."""
        with self.lock:
            for _ in range(len(self.ports)):
                port = self.next
                self.next = port + 1 if port + 1 < self.ports.stop else self.ports.start
                if port in self.given:
                    continue
                if all(bindable(a, port) for a in ("0.0.0.0", *addresses)):  # noqa: S104
                    self.given.add(port)
                    return port
        raise RuntimeError(f"no free port left in {self.ports.start}-{self.ports.stop - 1}")


_ALLOCATOR = Allocator(pool(ephemeral_range()))


def allocate(*addresses: str) -> int:
    """A TCP port for a server on 127.0.0.1 and on each of `addresses`, never the same
    twice in this process."""
    return _ALLOCATOR.allocate(*addresses)

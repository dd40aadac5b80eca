"""Waiting until a test server listens on its loopback port (tests/ports.py gives it)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable


def wait_listening(
    port: int, server: subprocess.Popen, timeout: float, why: Callable[[], str]
) -> None:
    """Returns once 127.0.0.1:`port` accepts; raises with why() when `server` exits first
    or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if server.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(why())
        time.sleep(0.1)

"""A steady HTTPS load through nginx that counts every non-2xx answer and connection error."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    sent: int = 0
    failed: int = 0
    # Requests resent once because the server closed a kept-alive connection as the
    # request went out (a graceful nginx reload closes idle connections): what every
    # HTTP/1.1 client does for an idempotent request (RFC 9112, 9.3.1). Never a failure
    # on a fresh connection; printed, so a rise is seen.
    retried: int = 0
    seconds: float = 0.0
    failures: collections.Counter = field(default_factory=collections.Counter)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


class Load:
    """`threads` workers, each pacing itself to rate/threads requests per second."""

    def __init__(
        self,
        url: str,
        rate: float = 60,
        threads: int = 6,
        verify: str | bool = False,
        headers: dict[str, str] | None = None,
    ):
        self.url, self.rate, self.threads, self.verify = url, rate, threads, verify
        self.headers = headers or {}
        self.result = LoadResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._started = 0.0

    def __enter__(self) -> Load:
        self._started = time.monotonic()
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join()
        self.result.seconds = time.monotonic() - self._started

    def _run(self) -> None:
        interval = self.threads / self.rate
        with httpx.Client(verify=self.verify, timeout=10, headers=self.headers) as client:
            next_at = time.monotonic()
            while not self._stop.is_set():
                outcome = self._one(client)
                retried = outcome == "RemoteProtocolError"
                if retried:  # the kept-alive connection was closed under the request
                    outcome = self._one(client)
                with self._lock:
                    self.result.sent += 1
                    self.result.retried += retried
                    if outcome:
                        self.result.failed += 1
                        self.result.failures[outcome] += 1
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

    def _one(self, client: httpx.Client) -> str:
        try:
            response = client.get(self.url)
        except httpx.HTTPError as error:
            return type(error).__name__
        return "" if response.is_success else f"HTTP {response.status_code}"

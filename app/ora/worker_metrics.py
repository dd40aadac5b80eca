"""The worker's /metrics: a minimal ASGI app that uvicorn serves inside the worker's own
event loop, so a scrape reads Redis with the worker's client, like the app's /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterable

import uvicorn

from ora import metrics
from ora.queue import JobQueue

PATH = "/metrics"


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):
        """The worker owns SIGTERM and SIGINT (loop.add_signal_handler): uvicorn leaves them."""
        yield


def asgi_app(queue: JobQueue, kinds: Iterable[str]):
    kinds = tuple(kinds)

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != PATH or scope["method"] not in ("GET", "HEAD"):
            status, body, content_type = 404, b"not found\n", "text/plain; charset=utf-8"
        else:
            stats = await metrics.job_stats(queue, kinds)
            status, body, content_type = 200, metrics.render(stats), metrics.CONTENT_TYPE
        headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    return app


def bind(port: int, host: str = "0.0.0.0") -> socket.socket:  # noqa: S104 - scraped over `internal`
    """Bound here, so that a taken port is an OSError naming it, before the loop starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.asynccontextmanager
async def serving(
    sock: socket.socket, queue: JobQueue, kinds: Iterable[str]
) -> AsyncIterator[None]:
    config = uvicorn.Config(
        asgi_app(queue, kinds), lifespan="off", log_config=None, access_log=False
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        await task
        sock.close()

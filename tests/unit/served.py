"""Serving an ASGI app for real: uvicorn on a kernel-chosen loopback port, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp


@contextmanager
def serving(app: ASGIApp, **options: Any) -> Iterator[str]:
    """`app` under uvicorn on a kernel-chosen loopback port, in a thread; yields its base URL.
    ``options`` go to ``uvicorn.Config`` (e.g. the fake LLM's own). On exit the server is
    told to stop and the thread must have ended."""
    config = {"log_level": "warning", "timeout_graceful_shutdown": 1, **options}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "uvicorn did not shut down"

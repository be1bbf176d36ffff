"""Serve a Restate ASGI app on loopback with hypercorn, in this process (no forked
worker), so the harness's signals reach the code that handles requests.

    python -m harness.serve my_agents.router:app --port 9080
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config

# Restate multiplexes every invocation to a deployment over one long-lived HTTP/2 connection.
# hypercorn's default (1,000) answers the 1,001st stream of a connection with a GOAWAY after
# which h2 refuses to answer the streams still open on it, and hypercorn drops their frames
# silently: each stranded attempt hung until Restate's inactivity timeout aborted it, and an
# LLM call it had made was wasted. A 1,000-request soak crossed the limit.
KEEP_ALIVE_MAX_REQUESTS = sys.maxsize


def config(host: str, port: int) -> Config:
    """hypercorn's settings for a Restate deployment. Its 100 concurrent streams per
    connection stay: they are the agent's back-pressure (with 10,000, a 1,000-request soak ran
    1,000 attempts at once in the billing agent and ended in a retry storm of client and abort
    timeouts; with 32, Restate overran the limit and the connection failed)."""
    cfg = Config()
    cfg.bind = [f"{host}:{port}"]
    cfg.loglevel = "WARNING"
    cfg.keep_alive_max_requests = KEEP_ALIVE_MAX_REQUESTS
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app", help="module:attribute of a Restate app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    module_name, _, attribute = args.app.partition(":")
    app = getattr(importlib.import_module(module_name), attribute or "app")
    asyncio.run(serve(app, config(args.host, args.port)))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

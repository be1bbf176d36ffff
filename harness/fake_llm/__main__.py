"""`python -m harness.fake_llm --host 127.0.0.1 --port N [--upstream URL] [--auto [--seed N]]`: serve the fake LLM.

With `--upstream https://api.openai.com/v1` (or `FAKE_LLM_UPSTREAM`), requests no rule
matches are forwarded to that real LLM with the agent's own key, and recorded in the ledger.
With `--auto`, requests no rule matches get a generated answer instead (a tool call with
valid arguments, or text; deterministic per request and seed), so an agent nobody scripted
runs unchanged; forward rules still reach the upstream.
With `--record FILE`, what the auto mode would answer goes to the real provider instead
(every protocol: to `--upstream`, else to each provider's public URL, with the agent's own
key) and each exchange is written to the cassette FILE; with `--cassette FILE` it is
answered from that recording (`--on-miss auto|fail` for what it does not hold).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import re
from typing import Any

import uvicorn

from harness.fake_llm.app import create_app
from harness.fake_llm.cassette import CassetteError
from harness.settings import ON_MISS, Tape
from harness.fake_llm.chat import DEFAULT_TOKEN_PATTERN
from harness.fake_llm.rules import Auto

# Held and hanging calls never finish on their own; don't let them block shutdown for long.
GRACEFUL_SHUTDOWN_S = 1
UPSTREAM_ENV = "FAKE_LLM_UPSTREAM"
# How uvicorn serves the fake. Under load, the pure-Python HTTP parser (h11) and asyncio's
# own loop took most of the fake's time per request; httptools and uvloop do the same work
# in C (benchmarks/fake_llm_load.py). Agents reach the fake directly or through Toxiproxy,
# never through a proxy whose X-Forwarded-* headers would matter.
SERVER_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "proxy_headers": False,
    "log_level": "warning",
    "access_log": False,
    "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
}


class _QuietCuts(logging.Filter):
    """A `stream_cut` rule ends a response on purpose without completing it; uvicorn would
    log each one as an error. The ledger records them (outcome "cut") instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing response."


def _pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a valid regular expression: {exc}") from exc
    return value


def _upstream(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(
            f"an upstream is an http(s) base URL such as https://api.openai.com/v1, got {value!r}"
        )
    return value.rstrip("/")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.fake_llm", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (only this one); default 127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument(
        "--token-pattern",
        type=_pattern,
        default=DEFAULT_TOKEN_PATTERN,
        help=f"regex of the correlation token to find in request messages; default {DEFAULT_TOKEN_PATTERN}",
    )
    parser.add_argument(
        "--upstream",
        type=_upstream,
        default=os.environ.get(UPSTREAM_ENV) or None,
        help=f"base URL of a real OpenAI-compatible LLM (e.g. https://api.openai.com/v1) to forward "
        f"unscripted requests to, with the agent's own Authorization; default ${UPSTREAM_ENV}, else none",
    )
    parser.add_argument(
        "--auto",
        action="store_true",
        help="answer requests no rule matches with a generated answer (a tool call with valid arguments, "
        "or text) instead of the default reply or the upstream",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="with --auto: the seed that picks tools and answers; default 0"
    )
    tape = parser.add_mutually_exclusive_group()
    tape.add_argument("--record", metavar="FILE",
                      help="forward what the auto mode would answer to the real provider and write each exchange "
                           "to this cassette (JSON lines, keys redacted)")
    tape.add_argument("--cassette", metavar="FILE", help="answer what the auto mode would from this recorded cassette")
    parser.add_argument("--on-miss", choices=ON_MISS, default="auto",
                        help="with --cassette: what a request it holds no answer to gets: the auto mode's answer "
                             "(default) or an error in the protocol's shape")
    parser.add_argument("--cassette-log", metavar="FILE",
                        help="with --cassette: note each lookup (hit or miss, with the token) here, one JSON line each")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.getLogger("uvicorn.error").addFilter(_QuietCuts())
    auto = Auto(seed=args.seed) if args.auto else False
    tape = None
    if args.record or args.cassette:
        tape = Tape(args.record or args.cassette, record=bool(args.record), on_miss=args.on_miss, log=args.cassette_log)
    try:
        app = create_app(token_pattern=args.token_pattern, upstream=args.upstream, auto=auto, tape=tape)
    except CassetteError as exc:
        raise SystemExit(f"fake LLM: {exc}") from None
    # Everything alive now (modules, classes, the app) lives as long as the process: out of
    # the collector's sight, a full collection only walks what the requests left (the ledger).
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=args.host, port=args.port, **SERVER_OPTIONS)


if __name__ == "__main__":
    main()

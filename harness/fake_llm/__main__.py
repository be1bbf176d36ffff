"""`python -m harness.fake_llm --host 127.0.0.1 --port N`: serve the fake LLM with uvicorn."""

from __future__ import annotations

import argparse
import logging
import re

import uvicorn

from harness.fake_llm.app import create_app
from harness.fake_llm.chat import DEFAULT_TOKEN_PATTERN

# Held and hanging calls never finish on their own; don't let them block shutdown for long.
GRACEFUL_SHUTDOWN_S = 1


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.fake_llm", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (only this one); default 127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument(
        "--token-pattern",
        type=_pattern,
        default=DEFAULT_TOKEN_PATTERN,
        help=f"regex of the correlation token to find in request messages; default {DEFAULT_TOKEN_PATTERN}",
    )
    args = parser.parse_args(argv)
    logging.getLogger("uvicorn.error").addFilter(_QuietCuts())
    uvicorn.run(
        create_app(token_pattern=args.token_pattern),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


if __name__ == "__main__":
    main()

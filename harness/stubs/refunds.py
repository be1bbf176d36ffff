"""A fake external "refunds" API with its own ledger: the side effect that must happen
once per request. ``POST /refunds`` records the call (correlation token, fingerprint,
arrival and finish) and answers ``{"refund_id": ...}``; ``GET /_ledger`` lists calls.

    python -m harness.stubs.refunds --port 9090
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import HarnessError
from ..fake_llm import DEFAULT_TOKEN_PATTERN


@dataclass(frozen=True)
class SideEffectCall:
    """One call to the stub, in the shape the classifier reads (like an LLM call)."""

    id: int
    arrived_at: float
    finished_at: float | None
    token: str | None
    fingerprint: str
    outcome: str
    status: int | None
    disconnected_at: float | None = None
    service: str = "refunds"


class _RecordingResponse(JSONResponse):
    """Stamps ``finished_at`` once the body is on the wire, as the fake LLM does."""

    def __init__(self, content: Any, entry: dict[str, Any]) -> None:
        super().__init__(content)
        self.entry = entry

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await super().__call__(scope, receive, send)
        self.entry["finished_at"] = time.time()
        self.entry["outcome"] = "ok"


def create_app(token_pattern: str = DEFAULT_TOKEN_PATTERN) -> Starlette:
    ledger: list[dict[str, Any]] = []
    token_re = re.compile(token_pattern)

    async def refund(request: Request) -> Response:
        arrived = time.time()
        body = await request.body()
        found = token_re.search(body.decode(errors="replace"))
        entry = {
            "id": len(ledger) + 1,
            "arrived_at": arrived,
            "finished_at": None,
            "token": found.group(0) if found else None,
            "fingerprint": hashlib.sha256(body).hexdigest()[:16],
            "outcome": "pending",
            "status": 200,
        }
        ledger.append(entry)
        return _RecordingResponse({"refund_id": f"rf_{entry['id']}"}, entry)

    async def calls(request: Request) -> Response:
        return JSONResponse(ledger)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/refunds", refund, methods=["POST"]),
            Route("/_ledger", calls, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def ledger(base_url: str) -> list[SideEffectCall]:
    """The stub's calls, in arrival order."""
    try:
        rows = httpx.get(f"{base_url}/_ledger", timeout=5).json()
    except (httpx.HTTPError, json.JSONDecodeError) as exc:
        raise HarnessError(f"the refunds stub at {base_url} did not return its ledger: {exc}") from None
    return [SideEffectCall(**row) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

"""A recording HTTP stub: an outside service an agent calls for a side effect (a refund, an
email, a ticket), made visible. It answers any path with 200 and a JSON echo, and keeps a
ledger of every call (correlation token, fingerprint, arrival and finish) that the
classifier reads like the fake LLM's, so a side effect repeated behind Restate's back is
caught as a duplicate. Its own endpoints live under ``/_stub/``.

    python -m harness.stubs.recording --service refunds --port 9090
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

from harness.errors import HarnessError
from harness.fake_llm import DEFAULT_TOKEN_PATTERN
from harness.history import StubCall


@dataclass(frozen=True)
class Stub:
    """A stub an agent needs: its name (``refunds``) and the environment variable through
    which the agent is handed the stub's URL (``REFUNDS_URL``)."""

    name: str
    env_var: str

    @classmethod
    def parse(cls, text: str) -> "Stub":
        """``NAME=ENV_VAR``, as given on the command line."""
        name, sep, env_var = text.partition("=")
        if not sep or not re.fullmatch(r"[a-z][a-z0-9_-]*", name) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env_var):
            raise HarnessError(f"a stub is NAME=ENV_VAR, e.g. refunds=REFUNDS_URL; got {text!r}")
        return cls(name, env_var)


REFUNDS = Stub("refunds", "REFUNDS_URL")


class StubClient:
    """A running stub, as the harness reads it."""

    def __init__(self, stub: Stub, base_url: str) -> None:
        self.stub, self.base_url = stub, base_url.rstrip("/")

    @property
    def name(self) -> str:
        return self.stub.name

    def ledger(self) -> list[StubCall]:
        """The stub's calls, in arrival order."""
        try:
            rows = httpx.get(f"{self.base_url}/_stub/ledger", timeout=5).json()
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise HarnessError(f"the {self.name} stub at {self.base_url} did not return its ledger: {exc}") from None
        return [StubCall.from_json(row) for row in rows]

    def reset(self) -> None:
        """Forget every call (a reused environment's next scenario starts from none)."""
        try:
            httpx.post(f"{self.base_url}/_stub/reset", timeout=5).raise_for_status()
        except httpx.HTTPError as exc:
            raise HarnessError(f"the {self.name} stub at {self.base_url} did not reset: {exc}") from None


class _RecordingResponse(JSONResponse):
    """Stamps ``finished_at`` once the body is on the wire, as the fake LLM does."""

    def __init__(self, content: Any, entry: dict[str, Any]) -> None:
        super().__init__(content)
        self.entry = entry

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await super().__call__(scope, receive, send)
        self.entry["finished_at"] = time.time()
        self.entry["outcome"] = "ok"


def create_app(service: str, token_pattern: str = DEFAULT_TOKEN_PATTERN) -> Starlette:
    ledger: list[dict[str, Any]] = []
    token_re = re.compile(token_pattern)

    async def record(request: Request) -> Response:
        arrived = time.time()
        body = await request.body()
        text = body.decode(errors="replace")
        found = token_re.search(text) or token_re.search(str(request.url))
        path = request.url.path
        entry = {
            "id": len(ledger) + 1,
            "arrived_at": arrived,
            "finished_at": None,
            "token": found.group(0) if found else None,
            # The same request again is the same call: method, path and body identify it.
            "fingerprint": hashlib.sha256(f"{request.method} {path}\n".encode() + body).hexdigest()[:16],
            "outcome": "pending",
            "status": 200,
            "service": service,
            "path": path,
        }
        ledger.append(entry)
        try:
            echo: Any = json.loads(text) if text else None
        except ValueError:
            echo = text
        # The id derives from the request (its token masked), not from arrival order: an agent
        # may hand it to the LLM, so the same work must get the same id in every run.
        shape = f"{request.method} {path}\n{text.replace(entry['token'], '{token}') if entry['token'] else text}"
        answer_id = f"{service}_{hashlib.sha256(shape.encode()).hexdigest()[:10]}"
        return _RecordingResponse({"id": answer_id, "ok": True, "path": path, "echo": echo}, entry)

    async def calls(request: Request) -> Response:
        return JSONResponse(ledger)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def reset(request: Request) -> Response:  # a reused environment starts with an empty ledger
        ledger.clear()
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/_stub/ledger", calls, methods=["GET"]),
            Route("/_stub/health", health, methods=["GET"]),
            Route("/_stub/reset", reset, methods=["POST"]),
            Route("/{path:path}", record, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", required=True, help="the stub's name, recorded on every call")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    uvicorn.run(create_app(args.service), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

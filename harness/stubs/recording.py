"""The server in front of every outside service an agent calls for a side effect (a refund,
a payment, an e-mail, an MCP tool), made visible and breakable. It keeps a ledger of every
tool call (correlation token, fingerprint, arrival and finish, the tool and its arguments)
that the classifier reads like the fake LLM's, so a side effect repeated behind Restate's
back is caught as a duplicate; and it applies the faults the harness scripts (``rules``).

Three kinds, one server:

- ``stub``: answers any path with 200 and a JSON echo;
- ``proxy``: forwards to the user's service (``--upstream``) and relays its answer;
- ``mcp``: an MCP server over streamable HTTP, serving the tools of ``--tools FILE`` or
  proxying the user's MCP server at ``--upstream``. Only ``tools/call`` is a tool call.

Its own endpoints live under ``/_stub/``.

    python -m harness.stubs.recording --service refunds --port 9090
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from harness.fake_llm import DEFAULT_TOKEN_PATTERN
from harness.fake_llm.delivery import CutResponse, client_left
from harness.stubs import mcp
from harness.stubs.rules import ToolRule, ToolRules

# Headers a proxy must not copy: hop-by-hop, or recomputed for the relayed body.
_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding"})
_UPSTREAM_TIMEOUT_S = 120.0


@dataclass
class Entry:
    """One tool call in the ledger (as ``harness.history.StubCall`` reads it)."""

    id: int
    arrived_at: float
    token: str | None
    fingerprint: str
    service: str
    path: str
    tool: str
    arguments: Any
    protocol: str  # "http" or "mcp"
    finished_at: float | None = None
    disconnected_at: float | None = None
    outcome: str = "pending"
    status: int | None = None
    held: bool = False
    fault: str | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "released"}


@dataclass
class StubState:
    service: str
    kind: str
    token_re: re.Pattern[str]
    upstream: str | None = None
    tools: mcp.ToolServer | None = None
    ledger: list[Entry] = field(default_factory=list)
    rules: ToolRules = field(default_factory=ToolRules)
    client: httpx.AsyncClient | None = None

    def record(self, request: Request, body: bytes, tool: str, arguments: Any, fingerprint: str, protocol: str) -> Entry:
        text = body.decode(errors="replace")
        found = self.token_re.search(text) or self.token_re.search(str(request.url))
        entry = Entry(len(self.ledger) + 1, time.time(), found.group(0) if found else None, fingerprint,
                      self.service, request.url.path, tool, arguments, protocol)
        self.ledger.append(entry)
        return entry


def answer_id(service: str, shape: str, token: str | None) -> str:
    """Derived from the request (its token masked), not from arrival order: an agent may hand
    it to the LLM, so the same work must get the same id in every run."""
    masked = shape.replace(token, "{token}") if token else shape
    return f"{service}_{hashlib.sha256(masked.encode()).hexdigest()[:10]}"


class Recorded:
    """Send ``response``; stamp the entry once its last byte is on the wire (as the fake LLM
    does: the checker compares it with Restate's journal times), or note a cut or a client
    that left."""

    def __init__(self, response: Response, entry: Entry, outcome: str = "ok") -> None:
        self.response, self.entry, self.outcome = response, entry, outcome

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        finished = False

        async def stamped(message: dict[str, Any]) -> None:
            nonlocal finished
            await send(message)
            if message["type"] == "http.response.start":
                self.entry.status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
                self.entry.finished_at, self.entry.outcome = time.time(), self.outcome

        try:
            await self.response(scope, receive, stamped)  # type: ignore[arg-type]
        finally:
            if not finished:
                if getattr(self.response, "cut", False):
                    self.entry.outcome = "cut"
                else:
                    self.entry.outcome, self.entry.disconnected_at = "disconnected", time.time()


class ToolEndpoint:
    """Every path but ``/_stub/``: a raw ASGI endpoint, so it can answer nothing at all (a
    client that left) and watch its own ``send``."""

    def __init__(self, state: StubState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        if self.state.kind == "mcp":
            response = await _mcp(self.state, request, body)
        else:
            response = await _http(self.state, request, body)
        if response is not None:
            await response(scope, receive, send)


class Control:
    """The stub's control endpoints (``/_stub/...``): its ledger, rules and held calls."""

    def __init__(self, state: StubState) -> None:
        self.state = state

    async def ledger(self, request: Request) -> Response:
        return JSONResponse([entry.to_json() for entry in self.state.ledger])

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "kind": self.state.kind})

    async def reset(self, request: Request) -> Response:  # a reused environment starts with an empty ledger
        for entry in self.state.ledger:
            entry.released.set()
        self.state.ledger.clear()
        self.state.rules.clear()
        return JSONResponse({"ok": True})

    async def add_rule(self, request: Request) -> Response:
        try:
            rule = ToolRule.from_json(await request.json())
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({"id": self.state.rules.add(rule)}, 201)

    async def remove_rule(self, request: Request) -> Response:
        if not self.state.rules.remove(request.path_params["rule_id"]):
            return JSONResponse({"error": f"no rule {request.path_params['rule_id']!r}"}, 404)
        return JSONResponse({"ok": True})

    async def list_rules(self, request: Request) -> Response:
        return JSONResponse(self.state.rules.to_json())

    async def release(self, request: Request) -> Response:
        entries = [e for e in self.state.ledger if e.id == request.path_params["call_id"]]
        if not entries or not entries[0].held:
            return JSONResponse({"error": f"call {request.path_params['call_id']} is not held"}, 409)
        entries[0].released.set()
        return JSONResponse(entries[0].to_json())

    def routes(self) -> list[Route]:
        return [
            Route("/_stub/ledger", self.ledger, methods=["GET"]),
            Route("/_stub/health", self.health, methods=["GET"]),
            Route("/_stub/reset", self.reset, methods=["POST"]),
            Route("/_stub/rules", self.list_rules, methods=["GET"]),
            Route("/_stub/rules", self.add_rule, methods=["POST"]),
            Route("/_stub/rules/{rule_id}", self.remove_rule, methods=["DELETE"]),
            Route("/_stub/calls/{call_id:int}/release", self.release, methods=["POST"]),
        ]


def create_app(service: str, token_pattern: str = DEFAULT_TOKEN_PATTERN, *, kind: str = "stub",
               upstream: str | None = None, tools: tuple[mcp.DeclaredTool, ...] = ()) -> Starlette:
    state = StubState(service, kind, re.compile(token_pattern), upstream,
                      mcp.ToolServer(service, tools) if kind == "mcp" and upstream is None else None)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if upstream is not None:
            state.client = httpx.AsyncClient(timeout=_UPSTREAM_TIMEOUT_S)
        yield
        if state.client is not None:
            await state.client.aclose()

    tool = Route("/{path:path}", ToolEndpoint(state), methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    return Starlette(lifespan=lifespan, routes=[*Control(state).routes(), tool])


# --- plain HTTP: a stub or a proxy -----------------------------------------------------------


async def _http(state: StubState, request: Request, body: bytes) -> Response | None:
    path = request.url.path
    tool = f"{request.method} {path}"
    text = body.decode(errors="replace")
    try:
        arguments: Any = json.loads(text) if text else None
    except ValueError:
        arguments = text[:2000]
    # The same request again is the same call: method, path and body identify it.
    fingerprint = hashlib.sha256(f"{request.method} {path}\n".encode() + body).hexdigest()[:16]
    entry = state.record(request, body, tool, arguments, fingerprint, "http")
    rule = state.rules.pick(tool)
    if await _wait(request, entry, rule):
        return None
    if rule is not None and rule.action == "error":
        headers = {"Retry-After": _seconds(rule.retry_after_s)} if rule.retry_after_s is not None else {}
        return Recorded(JSONResponse({"error": f"{state.service}: injected {rule.status}"}, rule.status, headers), entry,
                        "error")
    if state.upstream is not None:
        status, headers, content = await _forward(state, request, body)
    else:
        echo = {"id": answer_id(state.service, f"{tool}\n{text}", entry.token), "ok": True, "path": path,
                "echo": arguments}
        status, headers, content = 200, {"content-type": "application/json"}, json.dumps(echo).encode()
    return _answer(entry, rule, status, headers, content)


async def _forward(state: StubState, request: Request, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """The user's service's answer, whole; a 502 saying why if it could not be reached."""
    assert state.client is not None and state.upstream is not None
    # The agent's URL stands for the user's: its root is theirs exactly (an MCP endpoint such as
    # http://host/mcp), and a path below it is appended.
    path = "" if request.url.path == "/" else request.url.path
    url = state.upstream + path + (f"?{request.url.query}" if request.url.query else "")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    try:
        reply = await state.client.request(request.method, url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        message = {"error": f"{state.service}: the proxied service at {state.upstream} did not answer: {exc!r}"}
        return 502, {"content-type": "application/json"}, json.dumps(message).encode()
    relayed = {k: v for k, v in reply.headers.items() if k.lower() not in _HOP | {"content-encoding"}}
    return reply.status_code, relayed, reply.content


def _answer(entry: Entry, rule: ToolRule | None, status: int, headers: dict[str, str], content: bytes) -> Response:
    """The answer, or for a ``cut`` rule the first half of it and then a dropped connection
    (the tool acted, the agent never learns how it went)."""
    media = headers.get("content-type", "application/json")
    if rule is not None and rule.action == "cut":
        entry.status = status
        return Recorded(CutResponse([content[: len(content) // 2]], media, content_length=len(content)), entry)
    rest = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    outcome = "ok" if status < 400 else "error"
    return Recorded(Response(content, status, rest, media_type=media), entry, outcome)


async def _wait(request: Request, entry: Entry, rule: ToolRule | None) -> bool:
    """Apply a rule's hold, hang or delay; True if the client left meanwhile."""
    if rule is None:
        return False
    entry.fault = rule.action
    left = False
    if rule.action in ("hold", "hang"):
        entry.held = True
        # A hang is a hold nobody releases: only the client's timeout (or a crash) ends it.
        left = await client_left(request, until=entry.released)
        entry.held = False
    elif rule.action == "slow":
        left = await client_left(request, seconds=rule.delay_s)
    if left:
        entry.outcome, entry.disconnected_at = "disconnected", time.time()
    return left


def _seconds(value: float | None) -> str:
    return "0" if value is None else (str(int(value)) if float(value).is_integer() else str(value))


# --- MCP ----------------------------------------------------------------------------------


async def _mcp(state: StubState, request: Request, body: bytes) -> Response | None:
    if request.method != "POST":  # the server-to-client stream and session end
        if state.upstream is not None:
            status, headers, content = await _forward(state, request, body)
            return Response(content, status, headers)
        return Response(status_code=405 if request.method == "GET" else 200)
    messages = mcp.parse_messages(body)
    if messages is None:
        return JSONResponse(mcp.failure(None, mcp.PARSE_ERROR, "not a JSON-RPC message"), 400)
    call = next((m for m in messages if m.tool is not None), None)
    if call is None:  # initialize, tools/list, notifications: not tool calls, never faulted
        return await _mcp_answer(state, request, body, messages, None, None)
    arguments = call.arguments
    entry = state.record(request, json.dumps(arguments).encode(), call.tool or "", arguments,
                         mcp.call_fingerprint(call.tool or "", arguments), "mcp")
    rule = state.rules.pick(entry.tool)
    if await _wait(request, entry, rule):
        return None
    if rule is not None and rule.action == "error":
        if rule.mcp_error == "jsonrpc":
            failed = mcp.failure(call.id, mcp.INTERNAL_ERROR, f"{state.service}: injected failure of {call.tool}")
        else:
            failed = mcp.success(call, mcp.tool_result(f"{state.service}: {call.tool} failed (injected)", is_error=True))
        return Recorded(JSONResponse(failed), entry, "error")
    return await _mcp_answer(state, request, body, messages, entry, rule)


async def _mcp_answer(state: StubState, request: Request, body: bytes, messages: list[mcp.Message],
                      entry: Entry | None, rule: ToolRule | None) -> Response:
    if state.upstream is not None:
        status, headers, content = await _forward(state, request, body)
    else:
        assert state.tools is not None
        requests = [m for m in messages if m.is_request]
        if not requests:  # notifications only
            return Response(status_code=202)
        shape = json.dumps({"tool": entry.tool, "arguments": entry.arguments}, sort_keys=True) if entry else ""
        answers = [state.tools.answer(m, answer_id(state.service, shape, entry.token if entry else None))
                   for m in requests]
        headers = {"content-type": "application/json"}
        if any(m.method == "initialize" for m in requests):
            headers["mcp-session-id"] = mcp.new_session_id()
        batch = len(requests) > 1 or body.lstrip().startswith(b"[")
        status, content = 200, json.dumps(answers if batch else answers[0]).encode()
    if entry is None:
        return Response(content, status, {k: v for k, v in headers.items() if k.lower() != "content-type"},
                        media_type=headers.get("content-type", "application/json"))
    return _answer(entry, rule, status, headers, content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", required=True, help="the stub's name, recorded on every call")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--kind", choices=["stub", "proxy", "mcp"], default="stub")
    parser.add_argument("--upstream", help="the user's service (proxy) or MCP server to forward to")
    parser.add_argument("--tools", type=Path, help="an MCP tools file to serve")
    args = parser.parse_args()
    tools = mcp.load_tools(args.tools) if args.tools else ()
    uvicorn.run(create_app(args.service, kind=args.kind, upstream=args.upstream, tools=tools),
                host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

"""The call ledger: one entry per LLM request the fake received, in arrival order.

The checker reads it after a run to tell which LLM calls were repeated (same
`fingerprint`), which were cut off (`disconnected_at`: the client left, outcome
"disconnected", or a `stream_cut` rule dropped the connection, outcome "cut"), and when each answer actually
left the fake (`finished_at`, taken after the last byte was handed to the server) so it
can be compared with the timestamps in Restate's journal.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from harness.fake_llm.chat import Api, ChatRequest

Outcome = Literal["ok", "error", "malformed", "cut", "disconnected", "pending"]


@dataclass(kw_only=True)
class LedgerEntry:
    """What happened to one LLM request. Serialised by `GET /_fake/calls` (`to_json`).

    The request and the answer are kept as JSON text (`request_json`, `response_json`;
    `request` and `response` decode them), not as dicts and lists: a long soak's ledger
    holds tens of thousands, and the garbage collector would walk every one of their
    containers at each full collection, pausing all answers for hundreds of milliseconds.
    """

    id: int
    arrived_at: float
    finished_at: float | None = None
    released_at: float | None = None
    disconnected_at: float | None = None
    held: bool = False
    token: str | None
    # True when the request carried no token and the auto mode took the one recent token
    # from the ledger (see `Ledger.sole_recent_token`), so the call is still attributed.
    token_inferred: bool = False
    fingerprint: str
    model: str | None
    rule_index: int | None = None  # the answering rule's position when it answered (None: the default)
    rule_id: str | None = None  # its id in the rule book; positions shift as rules come and go
    status: int | None = None
    outcome: Outcome = "pending"
    stream: bool
    request_json: bytes | str = field(repr=False, metadata={"json": "request"})
    response_json: bytes | str | None = field(default=None, repr=False, metadata={"json": "response"})
    # The answer's token counts: OpenAI's `usage`; Anthropic's and Gemini's as input_tokens,
    # output_tokens and total_tokens (the checker reads total_tokens).
    usage: dict[str, int] | None = None
    api: Api = "chat"
    # The function tools the request offered, and the one the answer called, whatever the
    # protocol spells them as: validation reads the branches a router can take from them.
    tools: tuple[str, ...] = ()
    tool_called: str | None = None
    # Whether the provider would enforce the shape of the answer: the structured output asked
    # for ("json_object", "json_schema", "strict_json_schema") and the tools marked strict.
    output_format: str | None = None
    strict_tools: tuple[str, ...] = ()
    flaw: str | None = None  # the bad answer given (`BadAnswer.flaw`), if any
    # True when the answer was to come from the upstream (a forward rule, with an upstream
    # configured), whatever it turned out to be: the real answer, its error, or a 502.
    forwarded: bool = False
    # Made when first needed (a held call waits on it): most calls are never held, and a
    # ledger of a long soak need not carry an Event (and its waiters) for each of them.
    _release_signal: asyncio.Event | None = field(default=None, repr=False, compare=False, metadata={"json": False})

    @property
    def request(self) -> dict[str, Any]:
        """The request body, as the client sent it."""
        return json.loads(self.request_json)

    @property
    def response(self) -> Any:
        """The answer's body (None while there is none: pending, cut, disconnected, malformed)."""
        return None if self.response_json is None else json.loads(self.response_json)

    @property
    def release_signal(self) -> asyncio.Event:
        """Set once the call is released."""
        if self._release_signal is None:
            self._release_signal = asyncio.Event()
        return self._release_signal

    def hold(self) -> None:
        self.held = True

    def release(self) -> None:
        """Let a held (or hanging) call answer."""
        self.held = False
        self.released_at = time.time()
        self.release_signal.set()

    def mark_disconnected(self) -> None:
        """The client went away before the answer was complete."""
        self.held = False
        self.outcome = "disconnected"
        if self.disconnected_at is None:
            self.disconnected_at = time.time()

    def mark_cut(self) -> None:
        """The fake dropped the connection on purpose, part-way through the answer (`stream_cut`)."""
        self.held = False
        self.outcome = "cut"
        if self.disconnected_at is None:
            self.disconnected_at = time.time()

    def mark_finished(
        self, outcome: Outcome, response: Any, usage: dict[str, int] | None, *, body_json: bytes | None = None
    ) -> None:
        """The last byte of the answer has been handed to the server. `body_json`: `response`
        already encoded as JSON (a JSON response's body), so it need not be encoded again."""
        self.finished_at = time.time()
        self.outcome = outcome
        if response is None:
            self.response_json = None
        else:
            self.response_json = json.dumps(response) if body_json is None else body_json
        self.usage = usage

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in fields(self):
            key = f.metadata.get("json", True)
            if isinstance(key, str):  # kept as JSON text, served decoded under this name
                data[key] = getattr(self, key)
            elif key:
                data[f.name] = getattr(self, f.name)
        return data


class Ledger:
    """All entries of this fake since start-up or the last reset; ids are 1-based."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []

    def open(self, request: ChatRequest, raw: bytes | None = None) -> LedgerEntry:
        """Record a request as it arrives; `raw` is its body as received, if at hand (else it is encoded)."""
        entry = LedgerEntry(
            id=len(self._entries) + 1,
            arrived_at=time.time(),
            token=request.token,
            fingerprint=request.fingerprint,
            model=request.model,
            stream=request.stream,
            request_json=json.dumps(request.body) if raw is None else raw,
            api=request.api,
            tools=tuple(tool.name for tool in request.tools),
            output_format=None if request.output is None else request.output.label,
            strict_tools=tuple(tool.name for tool in request.tools if tool.strict),
        )
        self._entries.append(entry)
        return entry

    def get(self, call_id: int) -> LedgerEntry | None:
        return self._entries[call_id - 1] if 1 <= call_id <= len(self._entries) else None

    def sole_recent_token(self, within_s: float, now: float | None = None) -> str | None:
        """The token, if exactly one distinct token arrived (carried, not inferred) in the last `within_s` seconds.

        An agent that builds a prompt only from an earlier answer sends no token; while a
        single workload request is in flight, its calls are the only ones, so they are its.
        Two or more tokens seen, or none: None (no guessing).
        """
        since = (time.time() if now is None else now) - within_s
        found: str | None = None
        # Newest first, and only as far back as needed: entries are in arrival order, so the
        # scan stops at the first one older than the window, or at a second distinct token;
        # it never walks the whole ledger of a long soak.
        for entry in reversed(self._entries):
            if entry.arrived_at < since:
                break
            if entry.token and not entry.token_inferred and entry.token != found:
                if found is not None:
                    return None
                found = entry.token
        return found

    def entries(self, token: str | None = None) -> list[LedgerEntry]:
        return [e for e in self._entries if token is None or e.token == token]

    def release_all(self) -> list[int]:
        """Release every held call; returns their ids."""
        held = [entry for entry in self._entries if entry.held]
        for entry in held:
            entry.release()
        return [entry.id for entry in held]

    def clear(self) -> None:
        """Release everything still held, then forget all entries."""
        self.release_all()
        self._entries.clear()

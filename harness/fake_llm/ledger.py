"""The call ledger: one entry per LLM request the fake received, in arrival order.

The checker reads it after a run to tell which LLM calls were repeated (same
`fingerprint`), which were cut off (`disconnected_at`: the client left, outcome
"disconnected", or a `stream_cut` rule dropped the connection, outcome "cut"), and when each answer actually
left the fake (`finished_at`, taken after the last byte was handed to the server) so it
can be compared with the timestamps in Restate's journal.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from harness.fake_llm.chat import Api, ChatRequest

Outcome = Literal["ok", "error", "malformed", "cut", "disconnected", "pending"]


@dataclass(kw_only=True)
class LedgerEntry:
    """What happened to one LLM request. Serialised as-is by `GET /_fake/calls`."""

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
    request: dict[str, Any]
    response: Any = None
    usage: dict[str, int] | None = None
    api: Api = "chat"
    # True when the answer was to come from the upstream (a forward rule, with an upstream
    # configured), whatever it turned out to be: the real answer, its error, or a 502.
    forwarded: bool = False
    release_signal: asyncio.Event = field(
        default_factory=asyncio.Event, repr=False, compare=False, metadata={"json": False}
    )

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

    def mark_finished(self, outcome: Outcome, response: Any, usage: dict[str, int] | None) -> None:
        """The last byte of the answer has been handed to the server."""
        self.finished_at = time.time()
        self.outcome = outcome
        self.response = response
        self.usage = usage

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("json", True)}


class Ledger:
    """All entries of this fake since start-up or the last reset; ids are 1-based."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []

    def open(self, request: ChatRequest) -> LedgerEntry:
        """Record a request as it arrives."""
        entry = LedgerEntry(
            id=len(self._entries) + 1,
            arrived_at=time.time(),
            token=request.token,
            fingerprint=request.fingerprint,
            model=request.model,
            stream=request.stream,
            request=request.body,
            api=request.api,
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
        tokens = {e.token for e in self._entries if e.token and not e.token_inferred and e.arrived_at >= since}
        return tokens.pop() if len(tokens) == 1 else None

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

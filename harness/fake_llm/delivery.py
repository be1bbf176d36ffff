"""Delivering an answer: waiting (delay, hold, hang) while watching the client, and
recording in the ledger exactly when the answer went out.

`finished_at` is taken after the last body message was handed to the server, not when the
answer was computed, because the checker compares it with Restate's journal timestamps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from harness.fake_llm.ledger import LedgerEntry, Outcome

POLL_S = 0.05

T = TypeVar("T")


async def client_left(
    request: Request, *, seconds: float | None = None, until: asyncio.Event | None = None
) -> bool:
    """Wait `seconds`, or until the event is set; return True if the client disconnected first.

    Polls `request.is_disconnected()` every ~50 ms while waiting.
    """
    loop = asyncio.get_running_loop()
    deadline = None if seconds is None else loop.time() + seconds
    while True:
        if until is not None and until.is_set():
            return False
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            return False
        if await request.is_disconnected():
            return True
        step = POLL_S if remaining is None else min(POLL_S, remaining)
        if until is None:
            await asyncio.sleep(step)
        else:
            try:
                await asyncio.wait_for(until.wait(), step)
            except TimeoutError:
                pass


async def unless_client_leaves(request: Request, work: Awaitable[T]) -> T | None:
    """Await `work` while watching the client; if the client leaves first, cancel it and return None.

    Forwarding a held call waits for the real LLM, which can take long; an agent that gave
    up meanwhile must not keep the upstream request (and its cost) running.
    """
    task = asyncio.ensure_future(work)
    done = asyncio.Event()
    task.add_done_callback(lambda _: done.set())
    if await client_left(request, until=done):
        task.cancel()
        await asyncio.wait([task])
        return None
    return task.result()


async def stream_events(events: Sequence[bytes], first_token_delay_s: float) -> AsyncIterator[bytes]:
    """The server-sent events of a streamed answer; headers go out before the first-token delay."""
    if first_token_delay_s > 0:
        await asyncio.sleep(first_token_delay_s)
    for event in events:
        yield event


class CutResponse(Response):
    """Send the headers and `parts`, then stop without the last body message.

    The server (uvicorn) then closes the connection, so the client sees a body that ends
    early: a stream without its terminating event, or a JSON body shorter than its
    `Content-Length`. `cut` tells whether it got that far (False if the client left first).
    """

    def __init__(
        self,
        parts: Sequence[bytes],
        media_type: str,
        *,
        content_length: int | None = None,
        first_token_delay_s: float = 0.0,
    ) -> None:
        self.parts = list(parts)
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.body = b""
        headers = [(b"content-type", media_type.encode("latin-1"))]
        if content_length is not None:
            headers.append((b"content-length", str(content_length).encode("latin-1")))
        self.raw_headers = headers
        self.first_token_delay_s = first_token_delay_s
        self.cut = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if self.first_token_delay_s > 0 and await client_left(Request(scope, receive), seconds=self.first_token_delay_s):
            return
        for part in self.parts:
            await send({"type": "http.response.body", "body": part, "more_body": True})
        self.cut = True


@dataclass
class Answer:
    """A computed answer: the response to send, and what the ledger should say once it is sent."""

    response: Response
    outcome: Outcome
    body: Any = None
    usage: dict[str, int] | None = None
    body_json: bytes | None = None  # `body` as JSON, if the response has it rendered already (for the ledger)

    async def send(self, entry: LedgerEntry, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the response, noting its status and, after the last byte, `finished_at`.

        If the response stops before its last body message, the entry is marked cut (a
        response that dropped the connection on purpose says so in `cut`: a `CutResponse`
        that did its job, or a forwarded stream whose upstream broke off) or disconnected
        (the client left mid-stream).
        """
        finished = False

        async def send_and_record(message: Message) -> None:
            nonlocal finished
            await send(message)
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
                entry.mark_finished(self.outcome, self.body, self.usage, body_json=self.body_json)

        try:
            await self.response(scope, receive, send_and_record)
        finally:
            if not finished:
                if getattr(self.response, "cut", False):
                    entry.mark_cut()
                else:
                    entry.mark_disconnected()

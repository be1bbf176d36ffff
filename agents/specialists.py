"""The specialists of the seed's customer-support example, and the two LLM calls a
router makes: choosing a specialist (a tool call) and answering as that specialist.

The calls use the official ``openai`` SDK, configured only by the environment
(``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``OPENAI_MODEL``), so the same agent runs
against the harness's fake LLM or a real provider. The SDK's own retries are off:
Restate owns retries, so every attempt is visible in the journal and the ledger.

Each call checks the model's answer before returning it, because it runs inside a
journaled step: an unusable answer (empty, cut at the token limit, refused, a tool that
does not exist, arguments that are not the tool's) raises there, and Restate calls the
model again. Returned, it would be journaled, and every retry would replay it.
"""

from __future__ import annotations

import functools
import json
import os
from typing import TypedDict

from openai import AsyncOpenAI, BadRequestError
from restate import TerminalError

SPECIALISTS: dict[str, str] = {
    "BillingAgent": "You are a billing specialist. Help with charges, refunds and invoices.",
    "AccountAgent": "You are an account specialist. Help with logins, profiles and security.",
    "ProductAgent": "You are a product specialist. Help with features, plans and how-tos.",
}

ROUTER_PROMPT = (
    "You route customer questions to a specialist. Call the tool of the specialist who "
    "should answer; if no specialist is needed, answer directly."
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": prompt,
            "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
        },
    }
    for name, prompt in SPECIALISTS.items()
]


class UnusableAnswer(Exception):
    """The model answered, but not with something usable: raised inside the step, so the
    step fails and Restate retries the call (and the bad answer is never journaled)."""


class Decision(TypedDict):
    """The routing decision: a specialist's name, or a direct answer."""

    agent: str | None
    answer: str | None


@functools.cache
def _client() -> AsyncOpenAI:
    """One client per process: building one per call (an httpx pool and an SSL context each)
    cost ~40 ms of CPU, which capped a 200-request soak at 14 requests/s."""
    return AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))


def _model() -> str:
    return os.environ.get("OPENAI_MODEL", "gpt-4o-mini")


async def choose_specialist(question: str) -> Decision:
    """LLM call 1: which specialist should answer? A prompt too long for the model is
    terminal (retrying the same prompt cannot help); a bad decision is retried."""
    try:
        completion = await _client().chat.completions.create(
            model=_model(),
            messages=[{"role": "system", "content": ROUTER_PROMPT}, {"role": "user", "content": question}],
            tools=TOOLS,  # type: ignore[arg-type]
        )
    except BadRequestError as exc:  # 400: the request itself is wrong, every time
        raise TerminalError(f"the model refused the request: {exc.message}", status_code=400) from exc
    choice = completion.choices[0]
    if choice.message.tool_calls:
        call = choice.message.tool_calls[0].function  # type: ignore[union-attr]
        if call.name not in SPECIALISTS:
            raise UnusableAnswer(f"the model routed to {call.name!r}, which is not a specialist")
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError as exc:
            raise UnusableAnswer(f"the routing call's arguments are not JSON: {call.arguments!r}") from exc
        if arguments != {}:  # the specialists' tools take no arguments
            raise UnusableAnswer(f"the routing call's arguments do not fit its schema: {call.arguments!r}")
        return {"agent": call.name, "answer": None}
    return {"agent": None, "answer": _finished_text(choice.message.content, choice.finish_reason)}


async def ask_specialist(agent: str, question: str) -> str:
    """LLM call 2: answer the question with the specialist's system prompt. The answer is
    streamed, as chat agents do, so a stream cut midway is a fault this step can meet."""
    stream = await _client().chat.completions.create(
        model=_model(),
        messages=[{"role": "system", "content": SPECIALISTS[agent]}, {"role": "user", "content": question}],
        stream=True,
    )
    parts, finish = [], None
    async for chunk in stream:
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    return _finished_text("".join(parts), finish)


def _finished_text(text: str | None, finish_reason: str | None) -> str:
    """The answer, if the model finished it: not empty, not cut at the token limit or
    filtered, not a stream that stopped before its end (no finish reason)."""
    if finish_reason != "stop" or not text:
        raise UnusableAnswer(f"unusable answer (finish_reason {finish_reason!r}, {len(text or '')} characters)")
    return text

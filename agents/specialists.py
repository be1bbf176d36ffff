"""The specialists of the seed's customer-support example, and the two LLM calls a
router makes: choosing a specialist (a tool call) and answering as that specialist.

The calls use the official ``openai`` SDK, configured only by the environment
(``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``OPENAI_MODEL``), so the same agent runs
against the harness's fake LLM or a real provider. The SDK's own retries are off:
Restate owns retries, so every attempt is visible in the journal and the ledger.
"""

from __future__ import annotations

import functools
import os
from typing import TypedDict

from openai import AsyncOpenAI

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
    """LLM call 1: which specialist should answer?"""
    completion = await _client().chat.completions.create(
        model=_model(),
        messages=[{"role": "system", "content": ROUTER_PROMPT}, {"role": "user", "content": question}],
        tools=TOOLS,  # type: ignore[arg-type]
    )
    message = completion.choices[0].message
    if message.tool_calls:
        return {"agent": message.tool_calls[0].function.name, "answer": None}  # type: ignore[union-attr]
    return {"agent": None, "answer": message.content or ""}


async def ask_specialist(agent: str, question: str) -> str:
    """LLM call 2: answer the question with the specialist's system prompt. The answer is
    streamed, as chat agents do, so a stream cut midway is a fault this step can meet."""
    stream = await _client().chat.completions.create(
        model=_model(),
        messages=[{"role": "system", "content": SPECIALISTS[agent]}, {"role": "user", "content": question}],
        stream=True,
    )
    parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    return "".join(parts)


def unknown_agent_answer(agent: str) -> str:
    return f"Sorry, I cannot route to '{agent}': no such specialist."

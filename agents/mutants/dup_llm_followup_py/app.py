"""MUTANT (duplicate_llm_call): a concierge whose FIRST LLM call (pick a topic) is a
journaled step, but whose SECOND call (a greeting for that topic) is made outside
``ctx.run``. Its prompt is built only from the first answer, so it carries no trace of the
user's request (no correlation token). Every replay calls the LLM for the greeting again,
although the greeting already fed the journaled answer step.

Standalone, on the ``openai`` SDK. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``Concierge/reply`` with the question as a plain JSON string.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import restate
from openai import AsyncOpenAI

client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
STEP = restate.RunOptions(max_attempts=5, initial_retry_interval=timedelta(milliseconds=200))

TOPICS = ["billing", "account", "shipping"]
PICK_TOPIC = {
    "type": "function",
    "function": {
        "name": "pick_topic",
        "description": "The topic of the customer's question.",
        "parameters": {
            "type": "object",
            "properties": {"topic": {"type": "string", "enum": TOPICS}},
            "required": ["topic"],
            "additionalProperties": False,
        },
    },
}


async def pick_topic(question: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Classify the question."}, {"role": "user", "content": question}],
        tools=[PICK_TOPIC],
        tool_choice={"type": "function", "function": {"name": "pick_topic"}},
    )
    calls = completion.choices[0].message.tool_calls or []
    topic = json.loads(calls[0].function.arguments).get("topic") if calls else None
    return topic if topic in TOPICS else "general"


async def greeting_for(topic: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": f"Write a one-line friendly greeting from our {topic} team."}],
    )
    return completion.choices[0].message.content or ""


async def answer(question: str, greeting: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": f"You are a support agent. Start your answer with: {greeting}"},
            {"role": "user", "content": question},
        ],
    )
    return completion.choices[0].message.content or ""


concierge = restate.Service("Concierge")


@concierge.handler()
async def reply(ctx: restate.Context, question: str) -> str:
    topic = await ctx.run_typed("pick topic", pick_topic, STEP, question=question)
    greeting = await greeting_for(topic)  # BUG: not journaled, made again on every replay
    return await ctx.run_typed("answer", answer, STEP, question=question, greeting=greeting)


app = restate.app(services=[concierge])

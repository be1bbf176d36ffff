"""GREEN (a ``restate.VirtualObject`` keyed by customer: the exclusive handler reads the
conversation with ``ctx.get``, asks the LLM in one bounded ``ctx.run_typed`` step, and stores
the longer conversation with ``ctx.set``; state and step commit together in the journal).
Entry ``Conversation/send`` (key: the customer id) with the message as a plain JSON string.
"""

import os
from datetime import timedelta

import restate
from openai import AsyncOpenAI

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
LLM_STEP = restate.RunOptions(max_attempts=4, initial_retry_interval=timedelta(milliseconds=200),
                              max_duration=timedelta(seconds=90))
SYSTEM = {"role": "system", "content": "You are a helpful support agent. Answer briefly."}


async def chat(messages: list[dict]) -> str:
    completion = await client.chat.completions.create(model=MODEL, messages=[SYSTEM, *messages])
    return completion.choices[0].message.content or ""


conversation = restate.VirtualObject("Conversation")


@conversation.handler()
async def send(ctx: restate.ObjectContext, message: str) -> str:
    history = await ctx.get("history", type_hint=list[dict]) or []
    history.append({"role": "user", "content": message})
    reply = await ctx.run_typed("ask LLM", chat, LLM_STEP, messages=history)
    history.append({"role": "assistant", "content": reply})
    ctx.set("history", history)
    return reply


@conversation.handler(kind="shared")
async def get_history(ctx: restate.ObjectSharedContext) -> list[dict]:
    return await ctx.get("history", type_hint=list[dict]) or []


app = restate.app(services=[conversation])

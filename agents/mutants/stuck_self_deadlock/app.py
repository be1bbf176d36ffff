"""MUTANT (stuck_invocation): a Virtual Object whose exclusive handler calls another
EXCLUSIVE handler of the same object, on its own key, and awaits the answer. Restate runs
one exclusive handler per key at a time: the callee is queued in the key's inbox behind its
caller, which waits on it. A deadlock: the invocation never finishes, with no fault at all
(and it blocks every later request to that key too). No error, no retry, nothing times out.

Standalone, on the ``openai`` SDK. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``Conversation/reply`` (any key) with ``{"message": "..."}``. The fix: make
``summarize`` a shared handler (``kind="shared"``), or do the work inline (a plain function,
not a call through Restate), or send it without awaiting (``ctx.object_send``).
"""

from __future__ import annotations

import os
from datetime import timedelta

import restate
from openai import AsyncOpenAI
from pydantic import BaseModel

client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
STEP = restate.RunOptions(max_attempts=4, initial_retry_interval=timedelta(milliseconds=200))


async def complete(system: str, text: str) -> str:
    completion = await client.chat.completions.create(
        model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
        messages=[{"role": "system", "content": system}, {"role": "user", "content": text}],
    )
    return completion.choices[0].message.content or ""


class Message(BaseModel):
    message: str


conversation = restate.VirtualObject("Conversation")


@conversation.handler()  # exclusive (the default)
async def summarize(ctx: restate.ObjectContext, draft: str) -> str:
    summary = await ctx.run_typed("summarize", complete, STEP, system="Summarize this reply in one line.", text=draft)
    ctx.set("summary", summary)
    return summary


@conversation.handler()  # exclusive (the default)
async def reply(ctx: restate.ObjectContext, request: Message) -> str:
    draft = await ctx.run_typed("draft reply", complete, STEP, system="Draft a reply to the customer.",
                                text=request.message)
    # BUG: an exclusive handler awaiting another exclusive handler of its own key. The call is
    # queued behind this very invocation, which never ends because it waits for the call.
    summary = await ctx.object_call(summarize, key=ctx.key(), arg=draft)
    return f"{draft}\n\nSummary: {summary}"


app = restate.app(services=[conversation])

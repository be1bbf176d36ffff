"""ADVISORY (stuck_invocation): an agent whose LLM client has NO timeout (``timeout=None``).
An LLM that accepts the request and never answers leaves the step waiting until Restate
aborts the attempt (inactivity timeout, then abort timeout: 1 min + 10 min with Restate's
defaults) and retries it. Slow, not wrong: nothing is lost or repeated, so validation is
green with a ``stuck_invocation`` advisory, and red only with ``--fail-on stuck``.

Standalone, on the ``openai`` SDK (streamed answer). Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``Writer/draft`` with ``{"message": "..."}``. OPENAI_TIMEOUT_S is ignored: that is the bug.
"""

from __future__ import annotations

import os
from datetime import timedelta

import restate
from openai import AsyncOpenAI
from pydantic import BaseModel

client = AsyncOpenAI(max_retries=0, timeout=None)  # the advisory: waits until Restate aborts the attempt


async def draft_reply(message: str) -> str:
    stream = await client.chat.completions.create(
        model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
        messages=[{"role": "system", "content": "Draft a reply to the customer."}, {"role": "user", "content": message}],
        stream=True,
    )
    return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])


class Message(BaseModel):
    message: str


writer = restate.Service("Writer")


@writer.handler()
async def draft(ctx: restate.Context, request: Message) -> str:
    return await ctx.run_typed(
        "draft reply", draft_reply,
        restate.RunOptions(max_attempts=4, initial_retry_interval=timedelta(milliseconds=200)),
        message=request.message,
    )


app = restate.app(services=[writer])

"""MUTANT (retry_storm): an agent whose LLM step retries by itself, without bound, inside
``ctx.run`` (a ``while True`` loop, 20 ms apart) with no ``max_attempts`` on the step
either. An LLM that is down for good is hammered forever and the invocation never reaches
a terminal outcome; Restate's own bounded retries never get a say.

Standalone, on the ``openai`` SDK. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``Summarizer/summarize`` with the text as a plain JSON string.
"""

from __future__ import annotations

import asyncio
import os

import restate
from openai import AsyncOpenAI

client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))


async def summarize_once(text: str) -> str:
    completion = await client.chat.completions.create(
        model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
        messages=[{"role": "system", "content": "Summarize the customer's message in one line."}, {"role": "user", "content": text}],
    )
    return completion.choices[0].message.content or ""


async def summarize_until_it_works(text: str) -> str:
    while True:  # BUG: unbounded, with a tiny backoff
        try:
            return await summarize_once(text)
        except Exception:
            await asyncio.sleep(0.02)


summarizer = restate.Service("Summarizer")


@summarizer.handler()
async def summarize(ctx: restate.Context, text: str) -> str:
    return await ctx.run_typed("summarize", summarize_until_it_works, text=text)  # BUG: no max_attempts


app = restate.app(services=[summarizer])

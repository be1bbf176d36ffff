"""MUTANT (degraded_answer): an assistant that catches every LLM error INSIDE its journaled
step and returns a canned fallback. Restate never sees the failure, so it never retries:
the fallback is journaled as the answer, and a blip of the LLM (a 503, a timeout) turns
into "Sorry, try again later" for good, reported as a success.

Standalone, on the ``openai`` SDK. Serve it from this folder:

    python app.py 9080

Entry: ``Assistant/ask`` with ``{"message": "..."}``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

import restate
from hypercorn.asyncio import serve
from hypercorn.config import Config
from openai import AsyncOpenAI

client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
FALLBACK = "Sorry, try again later."


async def complete(question: str) -> str:
    try:
        completion = await client.chat.completions.create(
            model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
            messages=[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": question}],
        )
        return completion.choices[0].message.content or ""
    except Exception:  # BUG: swallows the error Restate should have retried
        return FALLBACK


assistant = restate.Service("Assistant")


@assistant.handler()
async def ask(ctx: restate.Context, request: dict) -> str:
    question = request["message"] if isinstance(request, dict) else str(request)
    return await ctx.run_typed(
        "answer", complete, restate.RunOptions(max_attempts=5, initial_retry_interval=timedelta(milliseconds=200)),
        question=question,
    )


app = restate.app(services=[assistant])


if __name__ == "__main__":
    config = Config()
    config.bind = [f"127.0.0.1:{int(sys.argv[1])}"]
    asyncio.run(serve(app, config))  # type: ignore[arg-type]

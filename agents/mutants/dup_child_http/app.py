"""MUTANT (duplicate_child_work): a dispatcher that starts its child agent with a plain HTTP
POST to the Restate ingress (``INGRESS_URL``), outside ``ctx.run`` and without an
idempotency key, instead of ``ctx.service_call``. Restate knows nothing of the link: every
replay of the dispatcher starts a NEW ``Researcher`` invocation, which does the research
(an LLM call) all over again.

Standalone, on the ``openai`` SDK; both services are in this one deployment. Serve it from
this folder (INGRESS_URL must be set, e.g. http://127.0.0.1:8080):

    python app.py --port 9080

Entry: ``Dispatcher/dispatch`` with ``{"message": "..."}``; the child is ``Researcher/research``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import timedelta

import httpx
import restate
from hypercorn.asyncio import serve
from hypercorn.config import Config
from openai import AsyncOpenAI
from pydantic import BaseModel

client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
STEP = restate.RunOptions(max_attempts=5, initial_retry_interval=timedelta(milliseconds=200))


async def ask(system: str, user: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": system}, {"role": "user", "content": user}]
    )
    return completion.choices[0].message.content or ""


researcher = restate.Service("Researcher")


@researcher.handler()
async def research(ctx: restate.Context, task: str) -> str:
    return await ctx.run_typed("research", ask, STEP, system="You are a researcher. Find the facts.", user=task)


class Request(BaseModel):
    message: str


dispatcher = restate.Service("Dispatcher")


@dispatcher.handler()
async def dispatch(ctx: restate.Context, request: Request) -> str:
    # BUG: the child is started behind Restate's back: not ctx.service_call, not in
    # ctx.run, no idempotency key. A replay starts the research again.
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(f"{os.environ['INGRESS_URL']}/Researcher/research", json=request.message)
        response.raise_for_status()
        findings = response.json()
    return await ctx.run_typed(
        "write answer", ask, STEP,
        system=f"You are a support agent. Use these findings: {findings}", user=request.message,
    )


app = restate.app(services=[dispatcher, researcher])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    config = Config()
    config.bind = [f"127.0.0.1:{parser.parse_args().port}"]
    asyncio.run(serve(app, config))  # type: ignore[arg-type]

"""The reference remote router (``RemoteAgentRouter.answer``): the routing decision is a
journaled LLM step, and the chosen specialist is a separate service (``{Agent}.run``),
called durably through Restate, possibly in another language."""

from __future__ import annotations

import json

import restate

from .routing import route

router = restate.Service("RemoteAgentRouter")


@router.handler()
async def answer(ctx: restate.Context, question: str) -> str:
    agent, reply = await route(ctx, question)
    if agent is None:
        return reply
    # generic_call returns the callee's raw JSON: decode it, or the answer is JSON-encoded twice.
    raw = await ctx.generic_call(agent, "run", arg=json.dumps(question).encode())
    return str(json.loads(raw))


app = restate.app(services=[router])

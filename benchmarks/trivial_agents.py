"""Trivial Restate services for the remote router's throughput ceiling
(``benchmarks/remote_ceiling.py``): they answer at once, with no LLM call and no step.

``Ceiling.answer`` is one handler; ``CeilingRouter.answer`` calls ``CeilingBilling.run``
through Restate, in another deployment: the remote router's call graph without its work."""

from __future__ import annotations

import json

import restate

ANSWER = "done"

ceiling = restate.Service("Ceiling")


@ceiling.handler()
async def answer(ctx: restate.Context, question: str) -> str:
    return ANSWER


router = restate.Service("CeilingRouter")


@router.handler("answer")
async def route(ctx: restate.Context, question: str) -> str:
    raw = await ctx.generic_call("CeilingBilling", "run", arg=json.dumps(question).encode())
    return str(json.loads(raw))


billing = restate.Service("CeilingBilling")


@billing.handler("run")
async def run(ctx: restate.Context, question: str) -> str:
    return ANSWER


ceiling_app = restate.app(services=[ceiling])
router_app = restate.app(services=[router])
billing_app = restate.app(services=[billing])

"""Mutant: the remote BillingAgent issuing its refund outside ``ctx.run``.

A crash after the refund replays the handler, and the refund is issued again although it
already drove journaled progress (the answer step). The checker must report a duplicate
side effect."""

from __future__ import annotations

import restate

from ..refunds import issue_refund
from ..routing import ANSWER_STEP
from ..specialists import ask_specialist

billing = restate.Service("BillingAgent")


@billing.handler("run")
async def run(ctx: restate.Context, question: str) -> str:
    await issue_refund(question)  # BUG: not journaled
    return await ctx.run_typed("ask BillingAgent", ask_specialist, ANSWER_STEP, agent="BillingAgent", question=question)


app = restate.app(services=[billing])

"""Mutant: the local router "load-balances" billing questions between two specialists with
``random.choice`` outside ``ctx.run``.

On replay (after a crash, or at every await under always-replay) the choice can differ,
so the handler asks for a step the journal does not have: Restate reports a journal
mismatch, and the invocation never completes."""

from __future__ import annotations

import random

import restate

from ..routing import ANSWER_STEP, LLM_STEP
from ..specialists import ask_specialist, choose_specialist

router = restate.Service("AgentRouter")


@router.handler()
async def answer(ctx: restate.Context, question: str) -> str:
    decision = await ctx.run_typed("route", choose_specialist, LLM_STEP, question=question)
    agent = decision["agent"] or "ProductAgent"
    if agent == "BillingAgent":
        agent = random.choice(["BillingAgent", "AccountAgent"])  # BUG: not journaled
    return await ctx.run_typed(f"ask {agent}", ask_specialist, ANSWER_STEP, agent=agent, question=question)


app = restate.app(services=[router])

"""Mutant: the local router with its routing LLM call made outside ``ctx.run``.

After a crash, the replay calls the LLM for the routing decision again although that
decision already drove journaled progress (the specialist step). The checker must
report those repeats as duplicates."""

from __future__ import annotations

import restate

from ..routing import ANSWER_STEP
from ..specialists import (
    ask_specialist,
    choose_specialist,
)

router = restate.Service("AgentRouter")


@router.handler()
async def answer(ctx: restate.Context, question: str) -> str:
    decision = await choose_specialist(question)  # BUG: not journaled
    agent = decision["agent"]
    if agent is None:
        return decision["answer"] or ""
    return await ctx.run_typed(f"ask {agent}", ask_specialist, ANSWER_STEP, agent=agent, question=question)


app = restate.app(services=[router])

"""Mutant: the local router "journals" its routing decision in a process-local cache
instead of ``ctx.run``.

Retries that Restate drives against the same process (a cut link, an LLM error, a
restart of restate-server) find the decision in the cache, so they look correct: no LLM
call is repeated. Only a crash of the router process itself loses the cache, and the
replay then asks the LLM for the routing decision again, although that decision already
drove journaled progress (the specialist step): a duplicate LLM call that appears under
one fault kind only (kill or terminate of the router). Used to show that shrinking finds
that one fault in a random schedule of many."""

from __future__ import annotations

import restate

from ..routing import ANSWER_STEP
from ..specialists import (
    Decision,
    ask_specialist,
    choose_specialist,
)

router = restate.Service("AgentRouter")

_decisions: dict[str, Decision] = {}  # BUG: gone when the process dies


@router.handler()
async def answer(ctx: restate.Context, question: str) -> str:
    decision = _decisions.get(question)
    if decision is None:
        decision = _decisions[question] = await choose_specialist(question)  # BUG: not journaled
    agent = decision["agent"]
    if agent is None:
        return decision["answer"] or ""
    return await ctx.run_typed(f"ask {agent}", ask_specialist, ANSWER_STEP, agent=agent, question=question)


app = restate.app(services=[router])

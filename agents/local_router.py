"""The reference local router (``AgentRouter.answer``): an LLM picks a specialist, then a
second LLM call answers with that specialist's prompt. Both calls are journaled steps,
so a crash after either one resumes without calling the LLM again."""

from __future__ import annotations

import restate

from .routing import ANSWER_STEP, route
from .specialists import ask_specialist

router = restate.Service("AgentRouter")


@router.handler()
async def answer(ctx: restate.Context, question: str) -> str:
    agent, reply = await route(ctx, question)
    if agent is None:
        return reply
    return await ctx.run_typed(f"ask {agent}", ask_specialist, ANSWER_STEP, agent=agent, question=question)


app = restate.app(services=[router])

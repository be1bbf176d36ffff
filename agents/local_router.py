"""The reference local router (``AgentRouter.answer``): an LLM picks a specialist, then a
second LLM call answers with that specialist's prompt. Both calls are journaled steps,
so a crash after either one resumes without calling the LLM again."""

from __future__ import annotations

from datetime import timedelta

import restate
from restate import RunOptions

from .specialists import SPECIALISTS, Decision, ask_specialist, choose_specialist, unknown_agent_answer

# Bounded retries per step: a broken LLM ends in a clean terminal error, not a retry storm.
# Waits of 0.2, 0.4, 0.8, 1 and 1 s ride out an LLM or link outage of about 3 s; with the
# SDK's default 50 ms start, four attempts were spent in 0.35 s and a 1.3 s outage failed
# requests terminally (found by a random schedule, seed 3).
_RETRIES = dict(
    max_attempts=6,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
    max_duration=timedelta(seconds=60),
)
LLM_STEP = RunOptions[Decision](**_RETRIES)  # type: ignore[arg-type]
ANSWER_STEP = RunOptions[str](**_RETRIES)  # type: ignore[arg-type]
REFUND_STEP = RunOptions[str](**_RETRIES)  # type: ignore[arg-type]

router = restate.Service("AgentRouter")


@router.handler()
async def answer(ctx: restate.Context, question: str) -> str:
    decision = await ctx.run_typed("route", choose_specialist, LLM_STEP, question=question)
    agent = decision["agent"]
    if agent is None:
        return decision["answer"] or ""
    if agent not in SPECIALISTS:
        return unknown_agent_answer(agent)
    return await ctx.run_typed(f"ask {agent}", ask_specialist, ANSWER_STEP, agent=agent, question=question)


app = restate.app(services=[router])

"""What both reference routers share: the retry budget of their LLM steps, and the
journaled routing decision."""

from __future__ import annotations

from datetime import timedelta

import restate
from restate import RunOptions

from .specialists import Decision, choose_specialist

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


async def route(ctx: restate.Context, question: str) -> tuple[str | None, str]:
    """The routing decision, as a journaled LLM step: ``(agent, "")`` when a specialist
    should answer, else ``(None, reply)`` with the LLM's direct answer. The step checked
    the decision (``choose_specialist``): a specialist that does not exist is never journaled."""
    decision = await ctx.run_typed("route", choose_specialist, LLM_STEP, question=question)
    agent = decision["agent"]
    if agent is None:
        return None, decision["answer"] or ""
    return agent, ""

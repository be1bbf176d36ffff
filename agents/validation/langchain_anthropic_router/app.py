"""A travel assistant on LangChain's ``create_agent`` with an Anthropic chat model, made
durable by Restate's middleware (``restate.ext.langchain``). GREEN: every model call is a
journaled step (``RestateMiddleware``), the fare tool does its lookup inside ``ctx.run``,
retries are bounded and the chat model has a timeout and no retries of its own.

Standalone (it imports nothing from the harness). Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``TravelDesk/ask`` with ``{"message": "..."}``. Configured by the environment:
ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL (langchain-anthropic reads ANTHROPIC_API_URL
first, then ANTHROPIC_BASE_URL), ANTHROPIC_MODEL, ANTHROPIC_TIMEOUT_S.
"""

from __future__ import annotations

import os
from datetime import timedelta

import restate
from langchain.agents import create_agent
from langchain.chat_models import init_chat_model
from langchain_core.tools import tool
from pydantic import BaseModel
from restate.ext.langchain import RestateMiddleware, restate_context

# Bounded: an LLM that stays down ends in a clean terminal error, not a retry storm.
STEP = restate.RunOptions(
    max_attempts=5,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)

# Restate owns retries: one attempt per journaled step, each bounded in time.
model = init_chat_model(
    "anthropic:" + os.environ.get("ANTHROPIC_MODEL", "claude-sonnet-4-5"),
    timeout=float(os.environ.get("ANTHROPIC_TIMEOUT_S", "30")),
    max_retries=0,
)

FARES = {"economy": 120, "business": 480}


@tool
async def quote_fare(destination: str, cabin: str) -> str:
    """Quote the fare of a flight to a destination in a cabin class."""

    async def look_up() -> int:
        return FARES.get(cabin.strip().lower(), 200)

    fare = await restate_context().run_typed("quote fare", look_up, STEP)
    return f"A {cabin} seat to {destination} costs {fare} EUR."


travel_agent = create_agent(
    model=model,
    tools=[quote_fare],
    system_prompt="You are a travel assistant. Quote the fare the customer asks about, then answer briefly.",
    middleware=[RestateMiddleware(run_options=STEP)],
)


class Question(BaseModel):
    message: str


desk = restate.Service("TravelDesk")


@desk.handler()
async def ask(ctx: restate.Context, question: Question) -> str:
    result = await travel_agent.ainvoke({"messages": [{"role": "user", "content": question.message}]})
    return result["messages"][-1].text


app = restate.app(services=[desk])

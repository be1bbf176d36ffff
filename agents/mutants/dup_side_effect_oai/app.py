"""MUTANT (duplicate_side_effect): a help desk on the OpenAI Agents SDK with Restate's
``DurableRunner``. The LLM calls are journaled, but the ``open_ticket`` tool is a plain
``@function_tool`` that POSTs to the ticketing API outside any durable step: every replay
of the handler (after a crash or a restart) opens the ticket again.

Standalone. Run it from THIS folder, so that ``agents`` is the OpenAI Agents SDK:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``HelpDesk/handle`` with the question as a plain JSON string. TICKETS_URL is the
ticketing API; the OpenAI settings come from the environment.
"""

from __future__ import annotations

import os
from datetime import timedelta

import httpx
import restate
from agents import Agent, function_tool, set_default_openai_api, set_default_openai_client, set_tracing_disabled
from openai import AsyncOpenAI
from restate.ext.openai import DurableRunner

set_tracing_disabled(True)
set_default_openai_client(
    AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30"))), use_for_tracing=False
)
set_default_openai_api("chat_completions")


@function_tool
async def open_ticket(subject: str, priority: str) -> str:
    """Open a support ticket; returns its id."""
    # BUG: a side effect outside ctx.run (use restate_context().run_typed, or
    # @durable_function_tool with the POST inside a ctx.run).
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{os.environ['TICKETS_URL']}/tickets", json={"subject": subject, "priority": priority})
        response.raise_for_status()
        return f"Ticket {response.json()['id']} opened."


desk_agent = Agent(
    name="help_desk",
    model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
    instructions="Open a ticket for the customer's problem, then tell them its id.",
    tools=[open_ticket],
)

desk = restate.Service("HelpDesk")


@desk.handler()
async def handle(ctx: restate.Context, question: str) -> str:
    result = await DurableRunner.run(
        desk_agent, question, run_options=restate.RunOptions(max_attempts=5, initial_retry_interval=timedelta(milliseconds=200))
    )
    return str(result.final_output)


app = restate.app(services=[desk])

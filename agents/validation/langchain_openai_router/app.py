"""A help desk on LangChain's ``create_agent`` with an OpenAI chat model, made durable by
Restate's middleware (``restate.ext.langchain``). GREEN: every model call is a journaled
step (``RestateMiddleware``), the ticket tool POSTs to the ticketing API inside
``ctx.run`` (a replay reuses the journaled ticket id instead of opening another), retries
are bounded and the chat model has a timeout and no retries of its own.

One middleware more than the tour's: a model answer whose tool call does not parse lands
in ``invalid_tool_calls``, and the agent loop then ends with an empty message, which the
handler would commit as its answer. ``RejectBrokenToolCalls`` runs inside the journaled
model call (it comes after ``RestateMiddleware``) and raises there, so Restate asks the
model again and the broken answer is never journaled.

Standalone (it imports nothing from the harness). Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``TicketDesk/handle`` with the question as a plain JSON string. Configured by the
environment: OPENAI_API_BASE or OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL,
OPENAI_TIMEOUT_S, and TICKETS_URL (the ticketing API).
"""

from __future__ import annotations

import os
from datetime import timedelta

import httpx
import restate
from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain.chat_models import init_chat_model
from langchain_core.tools import tool
from restate.ext.langchain import RestateMiddleware, restate_context

# Bounded: an LLM or ticketing API that stays down ends in a clean terminal error.
STEP = restate.RunOptions(
    max_attempts=5,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)

# Restate owns retries: one attempt per journaled step, each bounded in time.
model = init_chat_model(
    "openai:" + os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
    timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")),
    max_retries=0,
)


@tool
async def open_ticket(subject: str, priority: str) -> str:
    """Open a support ticket for the customer's problem; returns the ticket id."""

    async def post_ticket() -> str:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                f"{os.environ['TICKETS_URL']}/tickets", json={"subject": subject, "priority": priority}
            )
            response.raise_for_status()
            return str(response.json()["id"])

    ticket_id = await restate_context().run_typed("open ticket", post_ticket, STEP)
    return f"Ticket {ticket_id} opened."


class RejectBrokenToolCalls(AgentMiddleware):
    """Fail the model call (inside its journaled step) when a tool call's arguments did not parse."""

    async def awrap_model_call(self, request, handler):  # type: ignore[no-untyped-def]
        response = await handler(request)
        for message in response.result:
            if getattr(message, "invalid_tool_calls", None):
                raise RuntimeError(f"the model sent a tool call that does not parse: {message.invalid_tool_calls}")
        return response


desk_agent = create_agent(
    model=model,
    tools=[open_ticket],
    system_prompt="You run a help desk. Open a ticket for the customer's problem, then tell them its id.",
    middleware=[RestateMiddleware(run_options=STEP), RejectBrokenToolCalls()],
)

desk = restate.Service("TicketDesk")


@desk.handler()
async def handle(ctx: restate.Context, question: str) -> str:
    result = await desk_agent.ainvoke({"messages": [{"role": "user", "content": question}]})
    return result["messages"][-1].text


app = restate.app(services=[desk])

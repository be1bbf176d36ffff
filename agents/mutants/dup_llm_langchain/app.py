"""MUTANT (duplicate_llm_call): an order tracker on LangChain's ``create_agent`` with an
OpenAI chat model. Its tool journals its lookup with ``restate_context().run_typed``, but
the agent was built without ``RestateMiddleware``: no model call is a journaled step, so
every replay of the handler (after a crash, a restart or a suspension) asks the LLM again
for answers Restate could have replayed.

Standalone. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``OrderTracker/track`` with the question as a plain JSON string. The OpenAI
settings come from the environment (OPENAI_API_BASE or OPENAI_BASE_URL, OPENAI_API_KEY,
OPENAI_MODEL, OPENAI_TIMEOUT_S).
"""

from __future__ import annotations

import os
from datetime import timedelta

import restate
from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain.chat_models import init_chat_model
from langchain_core.tools import tool
from restate.ext.langchain import restate_context

SHIPPED = {"1001": "delivered", "1002": "packed"}  # the rest are on their way

STEP = restate.RunOptions(
    max_attempts=5,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)

model = init_chat_model(
    "openai:" + os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
    timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")),
    max_retries=0,
)


@tool
async def order_status(order_id: str) -> str:
    """The shipping status of an order."""

    async def look_up() -> str:
        return SHIPPED.get(order_id.strip(), "in transit")

    status = await restate_context().run_typed("order status", look_up, STEP)
    return f"Order {order_id} is {status}."


class RejectBrokenToolCalls(AgentMiddleware):
    """Fail the model call when a tool call's arguments did not parse (LangChain would
    otherwise end the loop with an empty message): a bad answer is asked again."""

    async def awrap_model_call(self, request, handler):  # type: ignore[no-untyped-def]
        response = await handler(request)
        for message in response.result:
            if getattr(message, "invalid_tool_calls", None):
                raise RuntimeError(f"the model sent a tool call that does not parse: {message.invalid_tool_calls}")
        return response


# BUG: no RestateMiddleware() in middleware=[...], so the model calls are not journaled.
# Fix: create_agent(..., middleware=[RestateMiddleware(run_options=STEP), RejectBrokenToolCalls()]).
tracker_agent = create_agent(
    model=model,
    tools=[order_status],
    system_prompt="You track orders. Look up the order's status, then tell the customer.",
    middleware=[RejectBrokenToolCalls()],
)

tracker = restate.Service("OrderTracker")


@tracker.handler()
async def track(ctx: restate.Context, question: str) -> str:
    result = await tracker_agent.ainvoke({"messages": [{"role": "user", "content": question}]})
    return result["messages"][-1].text


app = restate.app(services=[tracker])

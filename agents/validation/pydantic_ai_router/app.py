"""A billing assistant on Pydantic AI, made durable by Restate's integration
(``restate.ext.pydantic``). GREEN: every model request is a journaled step
(``RestateAgent``), the refund tool POSTs to the refunds API inside ``ctx.run`` (so a
replay reuses the journaled refund id instead of refunding again), retries are bounded and
the LLM client has a timeout.

Standalone (it imports nothing from the harness). Serve it from this folder:

    python app.py --port 9080

Entry: ``BillingAssistant/help`` with the question as a plain JSON string. Configured by the
environment: OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL, OPENAI_TIMEOUT_S, and
REFUNDS_URL (the refunds API).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import timedelta

import httpx
import restate
from hypercorn.asyncio import serve
from hypercorn.config import Config
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from restate.ext.pydantic import RestateAgent, restate_context

TIMEOUT_S = float(os.environ.get("OPENAI_TIMEOUT_S", "30"))
client = AsyncOpenAI(max_retries=0, timeout=TIMEOUT_S)  # Restate owns retries
model = OpenAIChatModel(os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), provider=OpenAIProvider(openai_client=client))

# Bounded: an LLM or refunds API that stays down ends in a clean terminal error.
STEP = restate.RunOptions(
    max_attempts=5,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)

assistant = Agent(
    model,
    instructions=(
        "You are a billing assistant. Refund a charge when the customer asks for it, "
        "then answer briefly."
    ),
    retries=1,
)


@assistant.tool_plain
async def issue_refund(order_id: str, reason: str) -> str:
    """Refund the charge of an order; returns the refund id."""

    async def post_refund() -> str:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                f"{os.environ['REFUNDS_URL']}/refunds", json={"order_id": order_id, "reason": reason}
            )
            response.raise_for_status()
            return str(response.json()["id"])

    refund_id = await restate_context().run_typed("issue refund", post_refund, STEP)
    return f"Refund {refund_id} issued for order {order_id}."


durable_assistant = RestateAgent(assistant, run_options=STEP)

service = restate.Service("BillingAssistant")


@service.handler()
async def help(ctx: restate.Context, question: str) -> str:
    result = await durable_assistant.run(question)
    return result.output


app = restate.app(services=[service])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    config = Config()
    config.bind = [f"127.0.0.1:{parser.parse_args().port}"]
    asyncio.run(serve(app, config))  # type: ignore[arg-type]

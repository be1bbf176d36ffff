"""MUTANT (duplicate_side_effect): a billing chat on Google ADK (Gemini) with Restate's
``RestatePlugin`` and ``RestateSessionService``. The model calls are journaled, but the
``refund_order`` tool POSTs to the refunds API outside any durable step: every replay of
the handler (after a crash, a restart or a suspension) refunds the order again.

Standalone. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``BillingChat/message`` (a Virtual Object: the key is the user) with
``{"message": "..."}``. REFUNDS_URL is the refunds API; the Gemini settings come from the
environment (GOOGLE_API_KEY, GOOGLE_GEMINI_BASE_URL, GEMINI_TIMEOUT_S).
"""

from __future__ import annotations

import os
from datetime import timedelta

import httpx
import restate
from google.adk import Runner
from google.adk.agents import LlmAgent
from google.adk.apps import App
from google.adk.models import Gemini
from google.genai import types
from pydantic import BaseModel
from restate.ext.adk import RestatePlugin, RestateSessionService

STEP = restate.RunOptions(
    max_attempts=5,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)

gemini = Gemini(
    model="gemini-2.5-flash",
    client_kwargs={
        "http_options": types.HttpOptions(
            timeout=int(float(os.environ.get("GEMINI_TIMEOUT_S", "30")) * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
    },
)


async def refund_order(order_id: str, reason: str) -> str:
    """Refund the charge of an order; returns the refund id."""
    # BUG: a side effect outside a durable step. Fix: move the POST into a function and
    # journal it: `await restate_context().run_typed("refund order", post_refund, STEP)`.
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{os.environ['REFUNDS_URL']}/refunds", json={"order_id": order_id, "reason": reason})
        response.raise_for_status()
        return f"Refund {response.json()['id']} issued for order {order_id}."


billing_agent = LlmAgent(
    model=gemini,
    name="billing_agent",
    instruction="You are a billing assistant. Refund the order the customer asks about, then confirm it.",
    tools=[refund_order],
)

runner = Runner(
    app=App(name="billing", root_agent=billing_agent, plugins=[RestatePlugin(run_options=STEP)]),
    session_service=RestateSessionService(),
)


class Message(BaseModel):
    message: str


chat = restate.VirtualObject("BillingChat")


@chat.handler()
async def message(ctx: restate.ObjectContext, req: Message) -> str:
    reply = ""
    async for event in runner.run_async(
        user_id=ctx.key(),
        session_id=ctx.key(),
        new_message=types.Content(role="user", parts=[types.Part.from_text(text=req.message)]),
    ):
        if event.is_final_response() and event.content and event.content.parts:
            reply = "".join(part.text or "" for part in event.content.parts)
    return reply


app = restate.app(services=[chat])

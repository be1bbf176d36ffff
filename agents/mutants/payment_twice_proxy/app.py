"""MUTANT (duplicate_side_effect): a checkout agent on the plain openai SDK. The model's
calls are journaled steps (``ctx.run_typed``), but the charge it asks for is POSTed to the
payment API as plain code between them, outside any step and with no idempotency key.
Every replay of the handler (after a crash, a restart or a suspension) reads the model's
``charge_card`` call back from the journal and POSTs the charge again: the card is charged
twice.

The fix (``agents/validation/payment_in_step_proxy``): the POST inside
``ctx.run_typed("charge card", ...)``, with an ``Idempotency-Key`` derived from
``ctx.request().id`` for the attempt that dies before the step is journaled.

Standalone. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``Checkout/pay`` with the request as a plain JSON string. PAYMENTS_URL is the payment
API (``payment_service.py`` here); the OpenAI settings come from the environment.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import httpx
import restate
from openai import AsyncOpenAI

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))  # Restate owns retries
LLM_STEP = restate.RunOptions(max_attempts=5, initial_retry_interval=timedelta(milliseconds=200),
                              max_retry_interval=timedelta(seconds=1))

CHARGE_CARD = {"type": "function", "function": {
    "name": "charge_card",
    "description": "Charge the customer's card on file for an order.",
    "parameters": {"type": "object", "properties": {"order": {"type": "string"}, "cents": {"type": "integer"}},
                   "required": ["order", "cents"]},
}}
SYSTEM = "You take payments. Charge the customer's card for their order, then confirm the payment briefly."


async def ask_model(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
    """One model call; its message as JSON (journaled by the step). Tool arguments that do
    not parse raise here, inside the step, so Restate asks again: journaled, they would fail
    the parse after the step on every retry (a poisoned journal)."""
    completion = await client.chat.completions.create(model=MODEL, messages=messages, **({"tools": tools} if tools else {}))
    message = completion.choices[0].message
    for call in message.tool_calls or []:
        json.loads(call.function.arguments)  # type: ignore[union-attr]
    return message.model_dump(exclude_none=True)


async def charge_card(order: str, cents: int) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{os.environ['PAYMENTS_URL']}/v1/charges", json={"order": order, "cents": cents})
        response.raise_for_status()
        return response.json()


checkout = restate.Service("Checkout")


@checkout.handler()
async def pay(ctx: restate.Context, request: str) -> str:
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": request}]
    reply = await ctx.run_typed("plan payment", ask_model, LLM_STEP, messages=messages, tools=[CHARGE_CARD])
    calls = reply.get("tool_calls") or []
    if not calls:
        return str(reply.get("content") or "")
    args = json.loads(calls[0]["function"]["arguments"])
    # BUG: the charge is POSTed outside a step, with no idempotency key: every replay charges again.
    charge = await charge_card(args["order"], args["cents"])
    messages += [reply, {"role": "tool", "tool_call_id": calls[0]["id"],
                         "content": json.dumps({"status": charge["status"], "cents": charge["cents"]})}]
    confirmation = await ctx.run_typed("confirm payment", ask_model, LLM_STEP, messages=messages, tools=[])
    return str(confirmation.get("content") or "")


app = restate.app(services=[checkout])

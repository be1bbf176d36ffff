"""A checkout agent on the plain openai SDK that charges a card through a payment API, and
hands the model the API's whole answer, its random charge id included.
GREEN: every model call is a journaled step (``ctx.run_typed``), and so is the charge: a
replay reads the charge back from the journal instead of POSTing it again. The POST carries
an ``Idempotency-Key`` derived from ``ctx.request().id``, so an attempt that charged but died
before its step was journaled is answered with the same charge when the step is retried.
Retries are bounded and every client has a timeout.

Standalone (it imports nothing from the harness). Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``Checkout/pay`` with the request as a plain JSON string. PAYMENTS_URL is the payment
API (``agents/mutants/payment_twice_proxy/payment_service.py``); the OpenAI settings come
from the environment.
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
# Bounded: an LLM or payment API that stays down ends in a clean terminal error.
STEP = restate.RunOptions(max_attempts=5, initial_retry_interval=timedelta(milliseconds=200),
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


async def charge_card(order: str, cents: int, idempotency_key: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{os.environ['PAYMENTS_URL']}/v1/charges", json={"order": order, "cents": cents},
                                   headers={"Idempotency-Key": idempotency_key})
        response.raise_for_status()
        return response.json()


checkout = restate.Service("Checkout")


@checkout.handler()
async def pay(ctx: restate.Context, request: str) -> str:
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": request}]
    reply = await ctx.run_typed("plan payment", ask_model, STEP, messages=messages, tools=[CHARGE_CARD])
    calls = reply.get("tool_calls") or []
    if not calls:
        return str(reply.get("content") or "")
    args = json.loads(calls[0]["function"]["arguments"])
    # The charge is a step: journaled once. The key is the same in every attempt of this invocation.
    charge = await ctx.run_typed("charge card", charge_card, STEP, order=args["order"], cents=args["cents"],
                                 idempotency_key=f"{ctx.request().id}:charge")
    messages += [reply, {"role": "tool", "tool_call_id": calls[0]["id"],
                         "content": json.dumps(charge)}]
    confirmation = await ctx.run_typed("confirm payment", ask_model, STEP, messages=messages, tools=[])
    return str(confirmation.get("content") or "")


app = restate.app(services=[checkout])

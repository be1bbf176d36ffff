"""GREEN: a claim-reimbursement workflow on ``google-genai`` (Gemini) alone, with structured
output in Gemini's two idioms, each parsed and validated INSIDE its ``ctx.run_typed`` step (a
step journals what it returns: parsing outside it would journal a malformed answer for good,
and every retry would replay it and fail again):

1. ``response_schema=ClaimData`` with ``response_mime_type="application/json"``: google-genai
   turns the model into Gemini's own schema (``responseSchema``, ``$defs`` inlined) and parses
   the answer into ``response.parsed``;
2. ``response_json_schema=`` a plain JSON schema (``responseJsonSchema``, ``$defs`` and
   ``$ref`` kept), the answer validated with pydantic.

Then a plain step pays.

Standalone. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``GeminiClaims/process`` with ``{"message": "..."}``. google-genai reads
GOOGLE_GEMINI_BASE_URL and GOOGLE_API_KEY; the client gets a timeout and no retries of its own.
"""

from __future__ import annotations

import os
from datetime import timedelta
from enum import Enum
from typing import Literal

import restate
from google import genai
from google.genai import types
from pydantic import BaseModel, Field

MODEL = "gemini-2.5-flash"
# One client for the process: a client that is garbage-collected closes its session under a call.
client = genai.Client(
    http_options=types.HttpOptions(
        timeout=int(float(os.environ.get("GEMINI_TIMEOUT_S", "30")) * 1000),  # milliseconds
        retry_options=types.HttpRetryOptions(attempts=1),  # Restate owns retries
    )
)

# Bounded: an LLM that stays down ends in a clean terminal error.
STEP = restate.RunOptions(
    max_attempts=6,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)


class ClaimPrompt(BaseModel):
    message: str


class Currency(str, Enum):
    EUR = "EUR"
    USD = "USD"
    GBP = "GBP"


class Expense(BaseModel):
    description: str
    amount: float = Field(ge=0, le=10_000)


class Claimant(BaseModel):
    name: str
    email: str


class ClaimData(BaseModel):
    claimant: Claimant
    category: Literal["medical", "travel", "equipment", "other"]
    currency: Currency
    items: list[Expense] = Field(min_length=1, max_length=5)
    amount: float = Field(ge=0, le=50_000)
    description: str


class Decision(BaseModel):
    approve: bool
    approved_amount: float = Field(ge=0, le=50_000)
    reasons: list[str] = Field(min_length=1)


async def extract_claim(message: str) -> ClaimData:
    response = await client.aio.models.generate_content(
        model=MODEL,
        contents=f"Extract the claim from this message: {message}",
        config=types.GenerateContentConfig(response_mime_type="application/json", response_schema=ClaimData),
    )
    if not isinstance(response.parsed, ClaimData):  # google-genai leaves it None when the text does not parse
        raise ValueError(f"no ClaimData in the answer: {response.text!r}")
    return response.parsed


async def decide(claim: ClaimData) -> Decision:
    response = await client.aio.models.generate_content(
        model=MODEL,
        contents=f"Decide on this claim: {claim.model_dump_json()}",
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_json_schema=Decision.model_json_schema()
        ),
    )
    return Decision.model_validate_json(response.text or "")  # raises here, inside the step


async def pay(claim_id: str, amount: float, currency: Currency) -> str:
    return f"Paid {amount:.2f} {currency.value}"  # claim_id: the payment's idempotency key


claims = restate.Service("GeminiClaims")


@claims.handler()
async def process(ctx: restate.Context, req: ClaimPrompt) -> dict:
    claim = await ctx.run_typed("extract claim", extract_claim, STEP, message=req.message)
    decision = await ctx.run_typed("decide", decide, STEP, claim=claim)
    paid = "not approved"
    if decision.approve:
        paid = await ctx.run_typed(
            "pay", pay, STEP, claim_id=str(ctx.uuid()), amount=decision.approved_amount, currency=claim.currency
        )
    return {"claim": claim.model_dump(mode="json"), "decision": decision.model_dump(), "paid": paid}


app = restate.app(services=[claims])

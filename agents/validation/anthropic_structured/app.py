"""GREEN: a claim-intake workflow on the ``anthropic`` SDK alone, with structured output in
Anthropic's two idioms, each parsed and validated INSIDE its ``ctx.run_typed`` step (a step
journals what it returns: parsing outside it would journal a malformed answer for good, and
every retry would replay it and fail again):

1. forced tool use: one tool whose ``input_schema`` is ``ClaimData``'s JSON schema (``$defs``,
   ``$ref``, an enum, a list, bounded numbers) and ``tool_choice={"type": "tool", ...}``; the
   ``tool_use`` block's input is validated into ``ClaimData``;
2. ``messages.parse(output_format=Triage)``: the SDK sends ``output_config.format`` and parses
   the JSON text it gets back.

Then a plain step files the claim.

Standalone. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``ClaimIntake/run`` with ``{"message": "..."}``. ``AsyncAnthropic`` reads
ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY; it gets a timeout and no retries of its own.
"""

from __future__ import annotations

import os
from datetime import timedelta
from enum import Enum
from typing import Literal

import restate
from anthropic import AsyncAnthropic
from pydantic import BaseModel, Field

client = AsyncAnthropic(max_retries=0, timeout=float(os.environ.get("ANTHROPIC_TIMEOUT_S", "30")))
MODEL = "claude-sonnet-4-5"

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


class Address(BaseModel):
    street: str
    city: str
    country: str


class LineItem(BaseModel):
    description: str
    quantity: int = Field(ge=1, le=100)
    unit_price: float = Field(ge=0, le=20_000)


class ClaimData(BaseModel):
    policy_number: str
    incident: Literal["theft", "water_damage", "fire", "accident"]
    currency: Currency
    place_of_incident: Address
    line_items: list[LineItem] = Field(min_length=1, max_length=10)
    total: float = Field(ge=0, le=200_000)


class Triage(BaseModel):
    urgency: Literal["low", "medium", "high"]
    needs_adjuster: bool
    note: str


RECORD_CLAIM = "record_claim"


async def extract_claim(message: str) -> ClaimData:
    answer = await client.messages.create(
        model=MODEL,
        max_tokens=1024,
        system="Extract the insurance claim from the customer's message.",
        messages=[{"role": "user", "content": message}],
        tools=[
            {
                "name": RECORD_CLAIM,
                "description": "Record the extracted claim.",
                "input_schema": ClaimData.model_json_schema(),
            }
        ],
        tool_choice={"type": "tool", "name": RECORD_CLAIM},
    )
    calls = [block for block in answer.content if block.type == "tool_use" and block.name == RECORD_CLAIM]
    if not calls:
        raise ValueError(f"no {RECORD_CLAIM} call in the answer (stop_reason {answer.stop_reason})")
    return ClaimData.model_validate(calls[0].input)  # raises here, inside the step


async def triage(claim: ClaimData) -> Triage:
    answer = await client.messages.parse(
        model=MODEL,
        max_tokens=512,
        system="Triage this insurance claim.",
        messages=[{"role": "user", "content": claim.model_dump_json()}],
        output_format=Triage,
    )
    if answer.parsed_output is None:
        raise ValueError(f"no structured answer (stop_reason {answer.stop_reason})")
    return answer.parsed_output


async def file_claim(claim: ClaimData, claim_id: str) -> str:
    return f"Filed under policy {claim.policy_number}"  # claim_id: the filing's idempotency key


intake = restate.Service("ClaimIntake")


@intake.handler()
async def run(ctx: restate.Context, req: ClaimPrompt) -> dict:
    claim = await ctx.run_typed("extract claim", extract_claim, STEP, message=req.message)
    assessment = await ctx.run_typed("triage claim", triage, STEP, claim=claim)
    filed = await ctx.run_typed("file claim", file_claim, STEP, claim=claim, claim_id=str(ctx.uuid()))
    return {"claim": claim.model_dump(mode="json"), "triage": assessment.model_dump(), "filed": filed}


app = restate.app(services=[intake])

"""GREEN: a claim workflow on the ``openai`` SDK alone, with structured output in its three
idioms, each parsed and validated INSIDE its ``ctx.run_typed`` step (a step journals what it
returns: parsing outside it would journal a malformed answer for good, and every retry would
replay it and fail again):

1. ``responses.parse(text_format=ClaimData)``, as Restate's insurance-claims example asks for
   the claim (the Responses API's ``text.format``, strict);
2. ``chat.completions.parse(response_format=Coverage)`` (Chat Completions ``json_schema``, strict);
3. ``response_format={"type": "json_object"}``: any JSON object, no schema, read as a note.

A refusal (``output_parsed`` / ``parsed`` is None) fails its step, so Restate asks again.

Standalone. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``ClaimAssessment/assess`` with ``{"message": "..."}``. Configured by the environment
the openai SDK reads: OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL, OPENAI_TIMEOUT_S.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any, Literal

import restate
from openai import AsyncOpenAI
from pydantic import BaseModel, Field

client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))  # Restate owns retries
MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")

# Bounded: an LLM that stays down ends in a clean terminal error.
STEP = restate.RunOptions(
    max_attempts=6,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)


class ClaimPrompt(BaseModel):
    message: str


class Treatment(BaseModel):
    procedure: str
    cost: float = Field(ge=0, le=25_000)


class ClaimData(BaseModel):
    patient: str
    date: str
    treatments: list[Treatment] = Field(min_length=1, max_length=6)
    place_of_service: Literal["hospital", "clinic", "pharmacy", "home"]
    amount: float = Field(ge=0, le=150_000)


class Coverage(BaseModel):
    covered: bool
    share: float = Field(ge=0, le=1, description="The share of the amount the policy pays")
    reason: str


async def extract_claim(message: str) -> ClaimData:
    response = await client.responses.parse(
        model=MODEL,
        input=[
            {"role": "system", "content": "Extract the claim information."},
            {"role": "user", "content": message},
        ],
        text_format=ClaimData,
    )
    if response.output_parsed is None:  # a refusal: fail the step so Restate asks again
        raise ValueError(f"no claim in the answer (status {response.status})")
    return response.output_parsed


async def check_coverage(claim: ClaimData) -> Coverage:
    completion = await client.chat.completions.parse(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Decide whether the policy covers this claim, and which share of it."},
            {"role": "user", "content": claim.model_dump_json()},
        ],
        response_format=Coverage,
    )
    message = completion.choices[0].message
    if message.parsed is None:
        raise ValueError(f"no coverage decision (refusal {message.refusal!r})")
    return message.parsed


async def write_note(claim: ClaimData, coverage: Coverage) -> dict[str, Any]:
    completion = await client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Write a short JSON note for the claims file."},
            {"role": "user", "content": f"Claim: {claim.model_dump_json()} Coverage: {coverage.model_dump_json()}"},
        ],
        response_format={"type": "json_object"},
    )
    choice = completion.choices[0]
    note = json.loads(choice.message.content or "")  # raises here, inside the step
    if choice.finish_reason != "stop" or not isinstance(note, dict) or not note:
        raise ValueError(f"no JSON object note (finish_reason {choice.finish_reason!r})")
    return note


assessment = restate.Service("ClaimAssessment")


@assessment.handler()
async def assess(ctx: restate.Context, req: ClaimPrompt) -> dict:
    claim = await ctx.run_typed("extract claim", extract_claim, STEP, message=req.message)
    coverage = await ctx.run_typed("check coverage", check_coverage, STEP, claim=claim)
    note = await ctx.run_typed("write note", write_note, STEP, claim=claim, coverage=coverage)
    payable = round(claim.amount * coverage.share, 2) if coverage.covered else 0.0
    return {"claim": claim.model_dump(), "coverage": coverage.model_dump(), "payable": payable, "note": note}


app = restate.app(services=[assessment])

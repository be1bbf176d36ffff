"""MUTANT (poisoned_journal): a claim-intake assistant that journals the model's RAW answer
and parses it outside the step. It asks for structured output that is not strict
(``response_format`` ``json_schema`` with ``strict: False``), so the provider may answer
JSON that breaks the schema; the step journals ``message.content`` as it came, and
``ClaimData.model_validate_json`` runs after the step. One bad answer is then journaled for
good: every retry replays it and fails the same validation, and the invocation never
finishes, even once the model answers well again (the call is never made again).

The twin with the parse inside the step: ``agents/validation/parse_inside_step_sdk``.

Standalone, on the ``openai`` SDK. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``ClaimIntake/extract`` with the customer's message as a JSON string.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Literal

import restate
from openai import AsyncOpenAI
from pydantic import BaseModel, Field

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
# Restate owns retries: no SDK retries, and a timeout so a hung call fails the attempt.
client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
LLM_STEP = restate.RunOptions(initial_retry_interval=timedelta(milliseconds=200),
                              max_retry_interval=timedelta(seconds=1), max_duration=timedelta(seconds=60))


class ClaimData(BaseModel):
    customer: str
    category: Literal["billing", "account", "technical"]
    amount: float = Field(ge=0, le=10_000)
    summary: str


RESPONSE_FORMAT = {"type": "json_schema",
                   "json_schema": {"name": "claim", "schema": ClaimData.model_json_schema(), "strict": False}}


async def ask_model(message: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL, response_format=RESPONSE_FORMAT,  # type: ignore[arg-type]
        messages=[{"role": "system", "content": "Extract the claim from the customer's message as JSON."},
                  {"role": "user", "content": message}])
    return completion.choices[0].message.content or ""


intake = restate.Service("ClaimIntake")


@intake.handler()
async def extract(ctx: restate.Context, message: str) -> dict:
    raw = await ctx.run_typed("extract claim", ask_model, LLM_STEP, message=message)
    claim = ClaimData.model_validate_json(raw)  # BUG: outside the step; a bad answer is replayed for good
    return {"customer": claim.customer, "category": claim.category, "amount": claim.amount, "summary": claim.summary}


app = restate.app(services=[intake])

"""GREEN (the twin of agents/mutants/poisoned_parse_outside_sdk): a claim-intake assistant
asking for structured output that is not strict (``response_format`` ``json_schema`` with
``strict: False``), which parses and validates the answer INSIDE its step. A bad answer
fails the step, so Restate retries the call, and only a valid claim is journaled.

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


async def extract_claim(message: str) -> dict:
    completion = await client.chat.completions.create(
        model=MODEL, response_format=RESPONSE_FORMAT,  # type: ignore[arg-type]
        messages=[{"role": "system", "content": "Extract the claim from the customer's message as JSON."},
                  {"role": "user", "content": message}])
    # Parsed and validated here, inside the step: a bad answer raises, the step fails, and
    # Restate asks the model again. Only a valid claim is journaled.
    claim = ClaimData.model_validate_json(completion.choices[0].message.content or "")
    return claim.model_dump()


intake = restate.Service("ClaimIntake")


@intake.handler()
async def extract(ctx: restate.Context, message: str) -> dict:
    claim = ClaimData.model_validate(await ctx.run_typed("extract claim", extract_claim, LLM_STEP, message=message))
    return {"customer": claim.customer, "category": claim.category, "amount": claim.amount, "summary": claim.summary}


app = restate.app(services=[intake])

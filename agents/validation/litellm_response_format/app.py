"""GREEN: a claim-reimbursement workflow on litellm, written the way Restate's workflow
examples write it (``ClaimReimbursement/process``): an LLM step extracts the claim as
structured output (``response_format=ClaimData``), a second LLM step assesses it, then two
plain steps convert the currency and pay. Each step is ``ctx.run_typed`` with Restate's
default retry policy (no ``RunOptions``).

One change from the example: the structured answer is parsed and validated INSIDE the step.
A step journals what it returns; parsing outside it would journal a malformed answer for good
(every retry replays it and fails again). Raising inside the step makes Restate ask again.

Standalone (it imports nothing from the harness). Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``ClaimReimbursement/process`` with ``{"message": "..."}``. Configured by the
environment litellm reads: OPENAI_API_BASE, OPENAI_API_KEY (and OPENAI_MODEL).
"""

import os

# litellm fetches its model price list from GitHub at import unless told to use its own copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from typing import Literal  # noqa: E402

import litellm  # noqa: E402
import restate  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

MODEL = "openai/" + os.environ.get("OPENAI_MODEL", "gpt-4o")


class ClaimPrompt(BaseModel):
    message: str


class ClaimData(BaseModel):
    """The claim as the LLM extracts it from the customer's message."""

    amount: float = Field(ge=0, description="The amount claimed")
    currency: Literal["EUR", "USD", "GBP", "CHF"]
    category: str
    description: str


async def extract_claim(document: str) -> ClaimData:
    response = await litellm.acompletion(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Extract the claim amount, currency, category, and description."},
            {"role": "user", "content": document},
        ],
        response_format=ClaimData,
    )
    # Inside the step: a malformed answer fails this attempt, so Restate asks the LLM again.
    return ClaimData.model_validate_json(response.choices[0].message.content or "")


async def assess_claim(claim: ClaimData) -> str:
    response = await litellm.acompletion(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Assess whether this claim is valid and determine the approved amount."},
            {"role": "user", "content": f"Claim: {claim.model_dump_json()}"},
        ],
    )
    choice = response.choices[0]
    # Inside the step too: an empty, cut or refused answer fails this attempt instead of being journaled.
    if choice.finish_reason != "stop" or not choice.message.content:
        raise ValueError(f"no usable assessment (finish_reason {choice.finish_reason!r})")
    return choice.message.content


USD_PER_UNIT = {"EUR": 1.08, "USD": 1.0, "GBP": 1.27, "CHF": 1.13}


async def convert_currency(amount: float, source: str) -> float:
    return round(amount * USD_PER_UNIT[source], 2)


async def process_payment(claim_id: str, amount: float) -> str:
    return f"Paid {amount:.2f} USD"  # claim_id: the payment's idempotency key


claim_service = restate.Service("ClaimReimbursement")


@claim_service.handler()
async def process(ctx: restate.Context, req: ClaimPrompt) -> dict:
    claim = await ctx.run_typed("Parse claim document", extract_claim, document=req.message)
    analysis = await ctx.run_typed("Analyze claim", assess_claim, claim=claim)
    amount_usd = await ctx.run_typed("Convert currency", convert_currency, amount=claim.amount, source=claim.currency)
    confirmation = await ctx.run_typed(
        "Process payment", process_payment, claim_id=str(ctx.uuid()), amount=amount_usd
    )
    return {"claim": claim.model_dump(), "analysis": analysis, "amount_usd": amount_usd, "confirmation": confirmation}


app = restate.app(services=[claim_service])

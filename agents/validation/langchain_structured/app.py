"""GREEN: a claim-reimbursement workflow on LangChain, in two idioms of structured output.

1. Restate's LangChain tour: ``create_agent(..., response_format=ClaimData,
   middleware=[RestateMiddleware()])``. The model is asked for a JSON schema
   (``response_format`` json_schema); LangChain parses the answer into ``ClaimData`` inside the
   model call the middleware journals, so a malformed answer fails that step and is asked again.
2. ``model.with_structured_output(ClaimEvaluation)`` awaited inside a plain ``ctx.run_typed``
   step: parsed and validated in the step, for the same reason.

Then a plain step pays the approved amount.

Standalone (it imports nothing from the harness). Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``ClaimReimbursementChain/process`` with ``{"message": "..."}``. Configured by the
environment: OPENAI_API_BASE or OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL, OPENAI_TIMEOUT_S.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Literal

import restate
from langchain.agents import create_agent
from langchain.chat_models import init_chat_model
from pydantic import BaseModel, Field
from restate.ext.langchain import RestateMiddleware

# Bounded: an LLM that stays down ends in a clean terminal error.
STEP = restate.RunOptions(
    max_attempts=6,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)

# Restate owns retries: one attempt per journaled step, each bounded in time.
model = init_chat_model(
    "openai:" + os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
    timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")),
    max_retries=0,
)


class ClaimPrompt(BaseModel):
    message: str


class ClaimData(BaseModel):
    amount: float = Field(ge=0, le=100_000)
    currency: Literal["EUR", "USD", "GBP"]
    category: str
    description: str


class ClaimEvaluation(BaseModel):
    valid: bool
    approved_amount: float = Field(ge=0)
    reasons: list[str]


parse_agent = create_agent(
    model=model,
    tools=[],
    system_prompt="Extract the claim amount, currency, category, and description.",
    response_format=ClaimData,
    middleware=[RestateMiddleware(run_options=STEP)],
)
evaluator = model.with_structured_output(ClaimEvaluation)


async def evaluate(claim: ClaimData) -> ClaimEvaluation:
    # Inside the step: an answer that does not validate raises here, so Restate asks again.
    evaluation = await evaluator.ainvoke(
        [
            ("system", "Assess whether this claim is valid and determine the approved amount."),
            ("user", f"Claim: {claim.model_dump_json()}"),
        ]
    )
    return ClaimEvaluation.model_validate(evaluation)


async def process_payment(claim_id: str, amount: float) -> str:
    return f"Paid {amount:.2f}"  # claim_id: the payment's idempotency key


claim_service = restate.Service("ClaimReimbursementChain")


@claim_service.handler()
async def process(ctx: restate.Context, req: ClaimPrompt) -> dict:
    parsed = await parse_agent.ainvoke({"messages": [{"role": "user", "content": req.message}]})
    claim = ClaimData.model_validate(parsed["structured_response"])
    evaluation = await ctx.run_typed("Evaluate claim", evaluate, STEP, claim=claim)
    confirmation = await ctx.run_typed(
        "Process payment", process_payment, claim_id=str(ctx.uuid()), amount=evaluation.approved_amount
    )
    return {"claim": claim.model_dump(), "evaluation": evaluation.model_dump(), "confirmation": confirmation}


app = restate.app(services=[claim_service])

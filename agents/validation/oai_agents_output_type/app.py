"""GREEN: a claim-reimbursement workflow on the OpenAI Agents SDK through Restate's
integration (``restate.ext.openai``), written the way Restate's workflow examples write it: a
``DocumentParser`` agent with ``output_type=ClaimData`` (a strict JSON schema in the
Responses API's ``text.format``: nested objects, an enum, a list, bounded numbers), a
``ClaimsAnalyst`` agent, then plain steps that convert the currency and pay.

One change from the example. ``DurableRunner`` journals the model's raw answer in the "call
LLM" step and the Agents SDK reads it after that step: a malformed answer raises
``ModelBehaviorError``, a refusal ``ModelRefusalError``, on every replay of the journaled one,
so the journal is poisoned and the invocation can never finish (and an empty answer would be
committed as is). So such an answer is met by running the agent again: its model call is a
NEW step (a new journal entry), not a replay of the bad one. A replay of the whole handler
takes the same path, since it replays the same answers in the same order.

Standalone (it imports nothing from the harness). Serve it from THIS folder, so that the
SDK's ``agents`` package is imported:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``ClaimReimbursementAgents/process`` with ``{"message": "..."}``. Configured by the
environment the openai SDK reads: OPENAI_BASE_URL, OPENAI_API_KEY (and OPENAI_MODEL).
"""

from __future__ import annotations

import os
from enum import Enum
from typing import Literal

import restate
from agents import Agent, ModelBehaviorError, ModelRefusalError, RunResult, set_tracing_disabled
from pydantic import BaseModel, Field
from restate.ext.openai import DurableRunner

set_tracing_disabled(True)  # no traces shipped to api.openai.com
MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
# How often an unusable answer (malformed, refused, empty) is asked again before the claim is rejected.
ATTEMPTS = 3


class ClaimPrompt(BaseModel):
    message: str


class Currency(str, Enum):
    EUR = "EUR"
    USD = "USD"
    GBP = "GBP"


class Claimant(BaseModel):
    name: str
    email: str


class Expense(BaseModel):
    description: str
    amount: float = Field(ge=0, le=10_000)


class ClaimData(BaseModel):
    claimant: Claimant
    category: Literal["medical", "travel", "equipment", "other"]
    currency: Currency
    items: list[Expense] = Field(min_length=1, max_length=10)
    amount: float = Field(ge=0, le=100_000, description="The total claimed")
    description: str


parse_agent = Agent(
    name="DocumentParser",
    model=MODEL,
    instructions="Extract the claimant, category, currency, expense items, total amount and description.",
    output_type=ClaimData,
)
analysis_agent = Agent(
    name="ClaimsAnalyst",
    model=MODEL,
    instructions="Assess whether this claim is valid and determine the approved amount.",
)


async def run_until_answered(agent: Agent, prompt: str) -> RunResult:
    """Run `agent`; when its answer is unusable (it does not parse as the output type, is a
    refusal, or is empty), run it again: new steps, where a retry would replay the bad one."""
    problem = ""
    for _ in range(ATTEMPTS):
        try:
            result = await DurableRunner.run(agent, prompt)
        except (ModelBehaviorError, ModelRefusalError) as error:
            problem = repr(error)
            continue
        if result.final_output not in ("", None):
            return result
        problem = "an empty answer"
    raise restate.TerminalError(f"{agent.name} gave no usable answer in {ATTEMPTS} tries, the last: {problem}")


USD_PER_UNIT = {Currency.EUR: 1.08, Currency.USD: 1.0, Currency.GBP: 1.27}


async def convert_currency(amount: float, source: Currency) -> float:
    return round(amount * USD_PER_UNIT[source], 2)


async def process_payment(claim_id: str, amount: float) -> str:
    return f"Paid {amount:.2f} USD"  # claim_id: the payment's idempotency key


claim_service = restate.Service("ClaimReimbursementAgents")


@claim_service.handler()
async def process(ctx: restate.Context, req: ClaimPrompt) -> dict:
    parsed = await run_until_answered(parse_agent, req.message)
    claim: ClaimData = parsed.final_output
    analysis = await run_until_answered(analysis_agent, f"Claim: {claim.model_dump_json()}")
    amount_usd = await ctx.run_typed("Convert currency", convert_currency, amount=claim.amount, source=claim.currency)
    confirmation = await ctx.run_typed(
        "Process payment", process_payment, claim_id=str(ctx.uuid()), amount=amount_usd
    )
    return {
        "claim": claim.model_dump(mode="json"),
        "analysis": analysis.final_output,
        "amount_usd": amount_usd,
        "confirmation": confirmation,
    }


app = restate.app(services=[claim_service])

"""GREEN: an expense-claim intake on Pydantic AI through Restate's integration
(``restate.ext.pydantic``), with ``output_type=ClaimData``: nested objects, an enum, a list
and bounded numbers. Pydantic AI's default output mode offers the schema as a strict
``final_result`` tool (``tool_choice: required``). ``RestateAgent`` journals each model
response as a step; Pydantic AI reads it after that step. An answer that does not validate is
asked again by Pydantic AI itself (``retries``), in a new model request and so a new step. But
a refusal (``ContentFilterError``) or a tool call cut at the token limit
(``IncompleteToolCall``) is raised, not retried, and would be raised again on every replay of
the journaled answer: so such an ``UnexpectedModelBehavior`` is met by running the agent again
(new steps, where a Restate retry would replay the bad one). The reimbursement is booked
inside a step.

Standalone (it imports nothing from the harness). Serve it from this folder:

    python app.py --port 9080

Entry: ``ExpenseIntake/submit`` with the claim as a plain JSON string. Configured by the
environment the openai SDK reads: OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL,
OPENAI_TIMEOUT_S.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import timedelta
from enum import Enum
from typing import Literal

import restate
from hypercorn.asyncio import serve
from hypercorn.config import Config
from openai import AsyncOpenAI
from pydantic import BaseModel, Field
from pydantic_ai import Agent
from pydantic_ai.exceptions import UnexpectedModelBehavior
from pydantic_ai.models.openai import OpenAIResponsesModel
from pydantic_ai.providers.openai import OpenAIProvider
from restate.ext.pydantic import RestateAgent

client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))  # Restate owns retries
model = OpenAIResponsesModel(os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), provider=OpenAIProvider(openai_client=client))

# Bounded: an LLM that stays down ends in a clean terminal error.
STEP = restate.RunOptions(
    max_attempts=5,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)


class Priority(str, Enum):
    LOW = "low"
    NORMAL = "normal"
    URGENT = "urgent"


class Claimant(BaseModel):
    name: str
    employee_id: str


class Expense(BaseModel):
    description: str
    amount: float = Field(ge=0, le=5_000)
    receipt: bool


class ClaimData(BaseModel):
    claimant: Claimant
    category: Literal["travel", "meals", "equipment", "training"]
    priority: Priority
    expenses: list[Expense] = Field(min_length=1, max_length=8)
    total: float = Field(ge=0, le=40_000)
    summary: str


intake = Agent(
    model,
    output_type=ClaimData,
    instructions="Extract the expense claim: claimant, category, priority, each expense, the total and a summary.",
    retries=2,
)
durable_intake = RestateAgent(intake, run_options=STEP)
# How often an unusable answer (refused, cut, still invalid after Pydantic AI's own retries) is
# asked again before the claim is rejected.
ATTEMPTS = 3


async def extract_claim(message: str) -> ClaimData:
    problem = ""
    for _ in range(ATTEMPTS):
        try:
            return (await durable_intake.run(message)).output
        except UnexpectedModelBehavior as error:  # raised after the journaled model response
            problem = repr(error)
    raise restate.TerminalError(f"no usable claim in {ATTEMPTS} runs, the last: {problem}")


async def book_reimbursement(claim: ClaimData) -> str:
    return f"Reimbursement of {claim.total:.2f} booked for {claim.claimant.employee_id}"


service = restate.Service("ExpenseIntake")


@service.handler()
async def submit(ctx: restate.Context, message: str) -> dict:
    claim = await extract_claim(message)
    booking = await ctx.run_typed("book reimbursement", book_reimbursement, STEP, claim=claim)
    return {"claim": claim.model_dump(mode="json"), "booking": booking}


app = restate.app(services=[service])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    config = Config()
    config.bind = [f"127.0.0.1:{parser.parse_args().port}"]
    asyncio.run(serve(app, config))  # type: ignore[arg-type]

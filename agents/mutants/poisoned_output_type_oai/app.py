"""MUTANT (poisoned_journal): a claim-intake agent on the OpenAI Agents SDK through Restate's
integration (``restate.ext.openai``), with an output type whose schema is NOT strict
(``AgentOutputSchema(ClaimData, strict_json_schema=False)``), so the provider may answer JSON
that breaks it. ``DurableRunner`` journals the model's raw answer in its "call LLM" step, and
the Agents SDK parses the final output after that step: a bad answer raises
``ModelBehaviorError`` on every replay of the journaled one, and the invocation never
finishes, even once the model answers well again.

The twin: ``agents/validation/output_type_rerun_oai``.

Standalone (it imports nothing from the harness). Serve it from THIS folder, so that the
SDK's ``agents`` package is imported:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``ClaimIntake/extract`` with ``{"message": "..."}``. Configured by the environment:
OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL, OPENAI_TIMEOUT_S.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Literal

import restate
from agents import Agent, AgentOutputSchema, set_default_openai_api, set_default_openai_client, set_tracing_disabled
from openai import AsyncOpenAI
from pydantic import BaseModel, Field
from restate.ext.openai import DurableRunner

# No traces shipped to api.openai.com; one client with a timeout and no retries of its own.
set_tracing_disabled(True)
set_default_openai_client(AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30"))),
                          use_for_tracing=False)
set_default_openai_api("responses")
MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
LLM_RETRIES = restate.RunOptions(initial_retry_interval=timedelta(milliseconds=200),
                                 max_retry_interval=timedelta(seconds=1), max_duration=timedelta(seconds=60))


class ClaimData(BaseModel):
    customer: str
    category: Literal["billing", "account", "technical"]
    amount: float = Field(ge=0, le=10_000)
    summary: str


class ClaimPrompt(BaseModel):
    message: str


intake_agent = Agent(
    name="ClaimIntake",
    model=MODEL,
    instructions="Extract the customer, the category, the amount claimed and a one-line summary.",
    output_type=AgentOutputSchema(ClaimData, strict_json_schema=False),  # BUG: parsed after the durable step
)

intake = restate.Service("ClaimIntake")


@intake.handler()
async def extract(ctx: restate.Context, prompt: ClaimPrompt) -> dict:
    result = await DurableRunner.run(intake_agent, prompt.message, run_options=LLM_RETRIES)
    claim: ClaimData = result.final_output
    return claim.model_dump(mode="json")


app = restate.app(services=[intake])

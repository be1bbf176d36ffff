"""GREEN (the twin of agents/mutants/poisoned_output_type_oai): the same claim-intake agent on
the OpenAI Agents SDK through ``restate.ext.openai``, with an output type whose schema is not
strict, that gets past a bad answer.

There is no way, through ``DurableRunner``, to validate the final output inside its "call
LLM" step: the step journals the model's raw answer and the Agents SDK parses
``output_type`` after it. So the closest correct agent answers a ``ModelBehaviorError`` by
running the agent again, told what was wrong: its model call is a NEW step (a new journal
entry), not a replay of the bad one, and a replay of the whole handler takes the same path,
since it replays the same answers in the same order. (Asked word for word again, the call
would look to the checker like the first one repeated after its answer was journaled.) A strict schema (``output_type=ClaimData``, the default)
spares it the schema violations, not an answer cut at the token limit or a refusal.

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
from agents import (Agent, AgentOutputSchema, ModelBehaviorError, RunResult, set_default_openai_api,
                    set_default_openai_client, set_tracing_disabled)
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
# How often an answer that does not parse is asked again before the claim is rejected.
PARSE_ATTEMPTS = 3


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
    output_type=AgentOutputSchema(ClaimData, strict_json_schema=False),
)


async def run_until_parsed(agent: Agent, prompt: str) -> RunResult:
    """Run ``agent``; when its answer does not parse as its output type, run it again (new
    steps), telling the model what was wrong, as Pydantic AI's retry prompt does."""
    asked = prompt
    for attempt in range(1, PARSE_ATTEMPTS + 1):
        try:
            return await DurableRunner.run(agent, asked, run_options=LLM_RETRIES)
        except ModelBehaviorError as error:
            if attempt == PARSE_ATTEMPTS:
                raise restate.TerminalError(f"{agent.name} gave no valid claim: {error}") from error
            # Built from the journaled answer's error only: a replay asks the same again.
            asked = f"{prompt}\n\nYour last answer was not a valid claim ({str(error)[:200]}). Answer with the schema."
    raise AssertionError("unreachable")


intake = restate.Service("ClaimIntake")


@intake.handler()
async def extract(ctx: restate.Context, prompt: ClaimPrompt) -> dict:
    result = await run_until_parsed(intake_agent, prompt.message)
    claim: ClaimData = result.final_output
    return claim.model_dump(mode="json")


app = restate.app(services=[intake])

"""A support router on the OpenAI Agents SDK, made durable by Restate's integration
(``restate.ext.openai``). GREEN: every LLM call is a journaled step (``DurableRunner``), the
one tool journals its work, retries are bounded and the LLM client has a timeout.

Standalone (it imports nothing from the harness). Run it from THIS folder, so that the
SDK's ``agents`` package (not a folder of the same name elsewhere) is imported:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``SupportRouter/answer`` with ``{"message": "..."}``. Configured by the environment:
OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL, OPENAI_TIMEOUT_S.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import restate
from agents import Agent, set_default_openai_api, set_default_openai_client, set_tracing_disabled
from openai import AsyncOpenAI
from pydantic import BaseModel
from restate.ext.openai import DurableRunner, durable_function_tool, restate_context

# No traces shipped to api.openai.com; one client with a timeout and no retries of its own:
# Restate owns retries, so each attempt is one journaled try.
set_tracing_disabled(True)
set_default_openai_client(
    AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30"))),
    use_for_tracing=False,
)
set_default_openai_api("responses")

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")

# Bounded: an LLM that stays down ends in a clean terminal error, not a retry storm.
LLM_RETRIES = restate.RunOptions(
    max_attempts=5,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)


@durable_function_tool
async def service_status(region: str) -> str:
    """The status of the service in a region."""

    async def probe() -> str:
        code = int(hashlib.sha256(region.encode()).hexdigest()[:4], 16) % 3
        return ["operational", "degraded", "maintenance"][code]

    status = await restate_context().run_typed("service status", probe)
    return f"The service in {region} is {status}."


billing_agent = Agent(
    name="billing_agent",
    model=MODEL,
    handoff_description="Charges, refunds and invoices.",
    instructions="You are a billing specialist. Answer the customer's billing question briefly.",
)
account_agent = Agent(
    name="account_agent",
    model=MODEL,
    handoff_description="Logins, profiles and security.",
    instructions="You are an account specialist. Answer the customer's account question briefly.",
)
triage_agent = Agent(
    name="triage_agent",
    model=MODEL,
    instructions=(
        "You route customer questions. Hand off to the billing or account specialist, "
        "check the service status if the customer reports an outage, or answer directly."
    ),
    handoffs=[billing_agent, account_agent],
    tools=[service_status],
)


class Question(BaseModel):
    message: str


router = restate.Service("SupportRouter")


@router.handler()
async def answer(ctx: restate.Context, question: Question) -> str:
    result = await DurableRunner.run(triage_agent, question.message, run_options=LLM_RETRIES)
    return str(result.final_output)


app = restate.app(services=[router])

"""GREEN (a ``restate.Workflow`` calling a specialist Service through the context,
``ctx.service_call``, so the child call is journaled and never started twice). The workflow's
``run`` makes one bounded LLM step (a triage note), then asks the billing specialist, which
makes its own bounded LLM step; the workflow returns the specialist's answer.
Entry ``SupportCase/run`` with ``{"customer": "...", "message": "..."}``.
"""

import os
from datetime import timedelta

import restate
from openai import AsyncOpenAI
from pydantic import BaseModel

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
LLM_STEP = restate.RunOptions(max_attempts=4, initial_retry_interval=timedelta(milliseconds=200),
                              max_duration=timedelta(seconds=90))


async def chat(system: str, user: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": system}, {"role": "user", "content": user}])
    return completion.choices[0].message.content or ""


billing = restate.Service("BillingSpecialist")


@billing.handler()
async def ask(ctx: restate.Context, note: str) -> str:
    return await ctx.run_typed("billing LLM", chat, LLM_STEP, user=note,
                               system="You are a billing specialist. Answer the case briefly.")


class Case(BaseModel):
    customer: str
    message: str


support_case = restate.Workflow("SupportCase")


@support_case.main()
async def run(ctx: restate.WorkflowContext, case: Case) -> str:
    note = await ctx.run_typed("triage LLM", chat, LLM_STEP, user=f"{case.customer}: {case.message}",
                               system="Write a one-line triage note for the billing team.")
    return await ctx.service_call(ask, arg=note)


app = restate.app(services=[support_case, billing])

"""GREEN (openai SDK, bounded steps: ``AsyncOpenAI(max_retries=0, timeout=...)`` and
``RunOptions(max_attempts, initial_retry_interval, max_duration)`` on every step). A router:
one LLM step picks a specialist through function tools, a second LLM step asks it.
Entry ``Router/answer`` with ``{"message": "..."}``.
"""

import os
from datetime import timedelta

import restate
from openai import AsyncOpenAI
from pydantic import BaseModel

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
# Restate owns retries: no SDK retries, and a timeout so a hung call fails the attempt.
client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
LLM_STEP = restate.RunOptions(max_attempts=4, initial_retry_interval=timedelta(milliseconds=200),
                              max_duration=timedelta(seconds=90))

SPECIALISTS = {
    "billing_specialist": "You are a billing specialist: charges, refunds, invoices. Answer briefly.",
    "account_specialist": "You are an account specialist: logins, profiles, security. Answer briefly.",
    "product_specialist": "You are a product specialist: features and how-tos. Answer briefly.",
}
PARAMETERS = {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}
TOOLS = [{"type": "function", "function": {"name": name, "description": prompt, "parameters": PARAMETERS}}
         for name, prompt in SPECIALISTS.items()]


class Question(BaseModel):
    message: str


async def route(message: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL, tools=TOOLS, tool_choice="required",
        messages=[{"role": "system", "content": "Hand the customer's question to one specialist."},
                  {"role": "user", "content": message}])
    calls = completion.choices[0].message.tool_calls or []
    return calls[0].function.name if calls and calls[0].function.name in SPECIALISTS else "product_specialist"


async def ask_specialist(specialist: str, message: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": SPECIALISTS[specialist]},
                               {"role": "user", "content": message}])
    return completion.choices[0].message.content or ""


router = restate.Service("Router")


@router.handler()
async def answer(ctx: restate.Context, question: Question) -> str:
    specialist = await ctx.run_typed("route", route, LLM_STEP, message=question.message)
    return await ctx.run_typed(f"ask {specialist}", ask_specialist, LLM_STEP,
                               specialist=specialist, message=question.message)


app = restate.app(services=[router])

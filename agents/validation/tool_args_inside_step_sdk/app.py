"""GREEN (the twin of agents/mutants/poisoned_tool_args_sdk): a router whose tools are not
strict, which parses and validates the tool call's ``arguments`` INSIDE its LLM step. Bad
arguments fail the step, so Restate asks the model again, and only a parsed routing
decision is journaled.

Standalone, on the ``openai`` SDK. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``TicketRouter/route`` with the customer's message as a JSON string.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import restate
from openai import AsyncOpenAI

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
# Restate owns retries: no SDK retries, and a timeout so a hung call fails the attempt.
client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
LLM_STEP = restate.RunOptions(initial_retry_interval=timedelta(milliseconds=200),
                              max_retry_interval=timedelta(seconds=1), max_duration=timedelta(seconds=60))

SPECIALISTS = {
    "billing_specialist": "You are a billing specialist: charges, refunds, invoices. Answer briefly.",
    "account_specialist": "You are an account specialist: logins, profiles, security. Answer briefly.",
}
PARAMETERS = {"type": "object", "properties": {"question": {"type": "string", "description": "The question, restated"}},
              "required": ["question"]}
TOOLS = [{"type": "function", "function": {"name": name, "description": prompt, "parameters": PARAMETERS}}
         for name, prompt in SPECIALISTS.items()]


async def pick_specialist(message: str) -> dict:
    completion = await client.chat.completions.create(
        model=MODEL, tools=TOOLS, tool_choice="required",  # type: ignore[arg-type]
        messages=[{"role": "system", "content": "Hand the customer's question to one specialist."},
                  {"role": "user", "content": message}])
    call = (completion.choices[0].message.tool_calls or [])[0]
    # Parsed and checked here, inside the step: arguments that are not JSON, or lack the
    # question, raise; the step fails and Restate asks the model again.
    arguments = json.loads(call.function.arguments)
    if not isinstance(arguments, dict) or not isinstance(arguments.get("question"), str):
        raise ValueError(f"the model called {call.function.name} without a question: {call.function.arguments!r}")
    return {"name": call.function.name, "question": arguments["question"]}


async def ask_specialist(specialist: str, question: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": SPECIALISTS[specialist]},
                               {"role": "user", "content": question}])
    return completion.choices[0].message.content or ""


router = restate.Service("TicketRouter")


@router.handler()
async def route(ctx: restate.Context, message: str) -> str:
    picked = await ctx.run_typed("pick specialist", pick_specialist, LLM_STEP, message=message)
    question = picked["question"]
    specialist = picked["name"] if picked["name"] in SPECIALISTS else "billing_specialist"
    return await ctx.run_typed(f"ask {specialist}", ask_specialist, LLM_STEP, specialist=specialist, question=question)


app = restate.app(services=[router])

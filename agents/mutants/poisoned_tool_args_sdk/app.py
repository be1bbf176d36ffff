"""MUTANT (poisoned_journal): a router whose LLM step journals the model's RAW tool call (its
name and its ``arguments`` string) and parses the arguments outside the step. Its tools are
not strict, so the provider may answer arguments that are not JSON; ``json.loads`` after the
step then fails on every replay of the journaled call, and the invocation never finishes,
even once the model answers well again (the routing call is never made again).

The twin with the parse inside the step: ``agents/validation/tool_args_inside_step_sdk``.

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
    return {"name": call.function.name, "arguments": call.function.arguments}  # the raw arguments string


async def ask_specialist(specialist: str, question: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": SPECIALISTS[specialist]},
                               {"role": "user", "content": question}])
    return completion.choices[0].message.content or ""


router = restate.Service("TicketRouter")


@router.handler()
async def route(ctx: restate.Context, message: str) -> str:
    picked = await ctx.run_typed("pick specialist", pick_specialist, LLM_STEP, message=message)
    question = json.loads(picked["arguments"])["question"]  # BUG: outside the step; bad arguments replay for good
    specialist = picked["name"] if picked["name"] in SPECIALISTS else "billing_specialist"
    return await ctx.run_typed(f"ask {specialist}", ask_specialist, LLM_STEP, specialist=specialist, question=question)


app = restate.app(services=[router])

"""GREEN (litellm: ``litellm.acompletion`` inside ``ctx.run_typed``, with ``num_retries=0``, a
timeout and ``RunOptions`` bounding each step). A router: one LLM step picks a specialist
through function tools, a second LLM step asks it.
Entry ``LiteLLMRouter/answer`` with the question as a plain JSON string.
"""

import os
from datetime import timedelta

import litellm
import restate

MODEL = "openai/" + os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
API_BASE = os.environ.get("OPENAI_BASE_URL")  # the key comes from OPENAI_API_KEY
TIMEOUT_S = float(os.environ.get("OPENAI_TIMEOUT_S", "30"))
LLM_STEP = restate.RunOptions(max_attempts=4, initial_retry_interval=timedelta(milliseconds=200),
                              max_duration=timedelta(seconds=90))

SPECIALISTS = {
    "billing_specialist": "You are a billing specialist: charges, refunds, invoices. Answer briefly.",
    "account_specialist": "You are an account specialist: logins, profiles, security. Answer briefly.",
}
PARAMETERS = {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}
TOOLS = [{"type": "function", "function": {"name": name, "description": prompt, "parameters": PARAMETERS}}
         for name, prompt in SPECIALISTS.items()]


async def complete(messages: list[dict], **kwargs) -> litellm.ModelResponse:
    # Restate owns retries: none in litellm, and a timeout so a hung call fails the attempt.
    return await litellm.acompletion(model=MODEL, api_base=API_BASE, messages=messages,
                                     timeout=TIMEOUT_S, num_retries=0, **kwargs)


async def route(question: str) -> str:
    response = await complete([{"role": "system", "content": "Hand the question to one specialist."},
                               {"role": "user", "content": question}], tools=TOOLS, tool_choice="auto")
    calls = response.choices[0].message.tool_calls or []
    return calls[0].function.name if calls and calls[0].function.name in SPECIALISTS else "billing_specialist"


async def ask_specialist(specialist: str, question: str) -> str:
    response = await complete([{"role": "system", "content": SPECIALISTS[specialist]},
                               {"role": "user", "content": question}])
    return response.choices[0].message.content or ""


router = restate.Service("LiteLLMRouter")


@router.handler()
async def answer(ctx: restate.Context, question: str) -> str:
    specialist = await ctx.run_typed("route", route, LLM_STEP, question=question)
    return await ctx.run_typed(f"ask {specialist}", ask_specialist, LLM_STEP,
                               specialist=specialist, question=question)


app = restate.app(services=[router])

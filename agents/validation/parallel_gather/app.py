"""GREEN (parallel steps: three bounded ``ctx.run_typed`` LLM steps started together and joined
with ``restate.gather``, then one summarising LLM step). A router that asks the billing,
account and product specialists at once and combines their answers.
Entry ``ParallelRouter/answer`` with the question as a plain JSON string.
"""

import os
from datetime import timedelta

import restate
from openai import AsyncOpenAI

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
LLM_STEP = restate.RunOptions(max_attempts=4, initial_retry_interval=timedelta(milliseconds=200),
                              max_duration=timedelta(seconds=90))

SPECIALISTS = {
    "BillingAgent": "You are a billing specialist: charges, refunds, invoices. Answer briefly.",
    "AccountAgent": "You are an account specialist: logins, profiles, security. Answer briefly.",
    "ProductAgent": "You are a product specialist: features and how-tos. Answer briefly.",
}


async def chat(system: str, user: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": system}, {"role": "user", "content": user}])
    return completion.choices[0].message.content or ""


router = restate.Service("ParallelRouter")


@router.handler()
async def answer(ctx: restate.Context, question: str) -> str:
    futures = {name: ctx.run_typed(f"Ask {name}", chat, LLM_STEP, system=prompt, user=question)
               for name, prompt in SPECIALISTS.items()}
    await restate.gather(*futures.values())
    answers = "\n".join([f"{name}: {await future}" for name, future in futures.items()])
    return await ctx.run_typed("Summarise", chat, LLM_STEP, user=f"Question: {question}\n\n{answers}",
                               system="Combine the specialists' answers into one short reply.")


app = restate.app(services=[router])

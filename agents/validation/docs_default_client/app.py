"""GREEN: fifteen lines written the way Restate's docs write them. One LLM call in one
``ctx.run_typed`` step; the ``AsyncOpenAI()`` client (600 s timeout, 2 retries) and
Restate's retry policy left at their defaults. The first agent a new user validates."""

import restate
from openai import AsyncOpenAI

client = AsyncOpenAI()
agent = restate.Service("Assistant")


async def ask_llm(question: str) -> str:
    completion = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    return completion.choices[0].message.content or ""


@agent.handler()
async def ask(ctx: restate.Context, question: str) -> str:
    return await ctx.run_typed("ask LLM", ask_llm, question=question)


app = restate.app(services=[agent])

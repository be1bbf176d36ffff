"""GREEN: a router on the ``anthropic`` SDK alone, written the way Restate's docs write an
agent on a plain LLM SDK. The first LLM call offers one tool per specialist and reads the
``tool_use`` block Claude answers with; the second asks that specialist. Each call is its
own ``ctx.run_typed`` step (``RunOptions(max_attempts=3)`` as in Restate's routing
example), so a replay reuses the journaled decision and answer instead of asking again.
``AsyncAnthropic()`` is left at its defaults (10 min timeout, 2 SDK retries); it reads
ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY from the environment.

Standalone. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``AnthropicRouter/answer`` with the question as a plain JSON string.
"""

import restate
from anthropic import AsyncAnthropic
from restate import RunOptions

client = AsyncAnthropic()
MODEL = "claude-sonnet-4-5"

SPECIALISTS = {
    "billing": "You are a billing specialist. Explain charges, refunds and invoices in a few sentences.",
    "account": "You are an account specialist. Help with logins, passwords and security in a few sentences.",
    "product": "You are a product specialist. Explain features, plans and how-tos in a few sentences.",
}
# One tool per specialist: calling it is the routing decision (it takes no arguments).
ROUTING_TOOLS = [
    {
        "name": f"ask_{name}",
        "description": f"Hand the customer's question to the {name} specialist.",
        "input_schema": {"type": "object", "properties": {}},
    }
    for name in SPECIALISTS
]


async def pick_specialist(question: str) -> str:
    """The specialist Claude routes the question to ("general" when it calls no tool)."""
    message = await client.messages.create(
        model=MODEL,
        max_tokens=256,
        system="You route customer questions: call the tool of the specialist who should answer.",
        messages=[{"role": "user", "content": question}],
        tools=ROUTING_TOOLS,
    )
    for block in message.content:
        if block.type == "tool_use" and block.name.removeprefix("ask_") in SPECIALISTS:
            return block.name.removeprefix("ask_")
    return "general"


async def ask_specialist(specialist: str, question: str) -> str:
    message = await client.messages.create(
        model=MODEL,
        max_tokens=1024,
        system=SPECIALISTS.get(specialist, "You are a helpful support agent. Answer briefly."),
        messages=[{"role": "user", "content": question}],
    )
    return "".join(block.text for block in message.content if block.type == "text")


router = restate.Service("AnthropicRouter")


@router.handler()
async def answer(ctx: restate.Context, question: str) -> str:
    specialist = await ctx.run_typed("pick specialist", pick_specialist, RunOptions(max_attempts=3), question=question)
    return await ctx.run_typed(
        f"ask {specialist}", ask_specialist, RunOptions(max_attempts=3), specialist=specialist, question=question
    )


app = restate.app(services=[router])

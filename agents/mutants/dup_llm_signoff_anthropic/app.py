"""MUTANT (duplicate_llm_call): a support agent on the ``anthropic`` SDK. Its FIRST call
(triage: Claude fills a ``triage`` tool with the customer's mood and the team, forced by
``tool_choice``) and its LAST call (the answer) are journaled ``ctx.run_typed`` steps, but
the call in between, a sign-off line for that mood and team, is made outside any step. Its
prompt is built only from the triage's enum values, so it carries nothing of the customer's
request (no correlation token). Every replay (after a crash, a restart or a suspension)
asks Claude for the sign-off again, although it already fed the journaled answer step.

Standalone. Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``SupportDesk/reply`` with the question as a plain JSON string.
"""

import restate
from anthropic import AsyncAnthropic
from restate import RunOptions

client = AsyncAnthropic()
MODEL = "claude-sonnet-4-5"
STEP = RunOptions(max_attempts=3)

TRIAGE_TOOL = {
    "name": "triage",
    "description": "Record the customer's mood and the team that should answer.",
    "input_schema": {
        "type": "object",
        "properties": {
            "mood": {"type": "string", "enum": ["upset", "neutral", "pleased"]},
            "team": {"type": "string", "enum": ["billing", "shipping", "accounts"]},
        },
        "required": ["mood", "team"],
    },
}


async def triage(question: str) -> dict[str, str]:
    message = await client.messages.create(
        model=MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": question}],
        tools=[TRIAGE_TOOL],
        tool_choice={"type": "tool", "name": "triage"},
    )
    for block in message.content:
        if block.type == "tool_use":
            return {"mood": str(block.input.get("mood", "neutral")), "team": str(block.input.get("team", "billing"))}
    return {"mood": "neutral", "team": "billing"}


async def sign_off(mood: str, team: str) -> str:
    message = await client.messages.create(
        model=MODEL,
        max_tokens=128,
        messages=[{"role": "user", "content": f"Write a one-line sign-off from our {team} team to a {mood} customer."}],
    )
    return "".join(block.text for block in message.content if block.type == "text")


async def answer(question: str, team: str, closing: str) -> str:
    message = await client.messages.create(
        model=MODEL,
        max_tokens=1024,
        system=f"You answer for our {team} team. End your answer with this line: {closing}",
        messages=[{"role": "user", "content": question}],
    )
    return "".join(block.text for block in message.content if block.type == "text")


desk = restate.Service("SupportDesk")


@desk.handler()
async def reply(ctx: restate.Context, question: str) -> str:
    found = await ctx.run_typed("triage", triage, STEP, question=question)
    # BUG: not in a step, so not journaled: every replay asks Claude again.
    # Fix: closing = await ctx.run_typed("sign-off", sign_off, STEP, mood=..., team=...)
    closing = await sign_off(found["mood"], found["team"])
    return await ctx.run_typed("answer", answer, STEP, question=question, team=found["team"], closing=closing)


app = restate.app(services=[desk])

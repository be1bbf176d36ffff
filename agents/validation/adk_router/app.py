"""A support chat on Google ADK (Gemini), made durable by Restate's integration
(``restate.ext.adk``). GREEN: ``RestatePlugin`` makes every model call a journaled step,
``RestateSessionService`` keeps the session in the Virtual Object's state (stored through a
step), the callback tool POSTs to the callbacks API inside ``ctx.run`` (a replay reuses the
journaled booking instead of booking again), retries are bounded and the Gemini client has
a timeout and no retries of its own.

Standalone (it imports nothing from the harness). Serve it from this folder:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``SupportChat/message`` (a Virtual Object: the key is the user) with
``{"message": "..."}``. Configured by the environment: GOOGLE_API_KEY,
GOOGLE_GEMINI_BASE_URL (google-genai's own variables), GEMINI_TIMEOUT_S, and CALLBACKS_URL
(the callbacks API).
"""

from __future__ import annotations

import os
from datetime import timedelta

import httpx
import restate
from google.adk import Runner
from google.adk.agents import LlmAgent
from google.adk.apps import App
from google.adk.models import Gemini
from google.genai import types
from pydantic import BaseModel
from restate.ext.adk import RestatePlugin, RestateSessionService, restate_context

# Bounded: an LLM or callbacks API that stays down ends in a clean terminal error.
STEP = restate.RunOptions(
    max_attempts=5,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)

# One attempt per journaled step, bounded in time (google-genai takes milliseconds).
gemini = Gemini(
    model="gemini-2.5-flash",
    client_kwargs={
        "http_options": types.HttpOptions(
            timeout=int(float(os.environ.get("GEMINI_TIMEOUT_S", "30")) * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
    },
)


async def schedule_callback(phone_number: str, topic: str) -> str:
    """Book a phone callback from a support engineer; returns the booking id."""

    async def book() -> str:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                f"{os.environ['CALLBACKS_URL']}/callbacks", json={"phone": phone_number, "topic": topic}
            )
            response.raise_for_status()
            return str(response.json()["id"])

    booking = await restate_context().run_typed("book callback", book, STEP)
    return f"Callback {booking} booked about {topic}."


support_agent = LlmAgent(
    model=gemini,
    name="support_agent",
    instruction="You help customers. Book a callback from an engineer for their problem, then confirm it.",
    tools=[schedule_callback],
)

runner = Runner(
    app=App(name="support", root_agent=support_agent, plugins=[RestatePlugin(run_options=STEP)]),
    session_service=RestateSessionService(),
)


class Message(BaseModel):
    message: str


chat = restate.VirtualObject("SupportChat")


@chat.handler()
async def message(ctx: restate.ObjectContext, req: Message) -> str:
    reply = ""
    async for event in runner.run_async(
        user_id=ctx.key(),
        session_id=ctx.key(),
        new_message=types.Content(role="user", parts=[types.Part.from_text(text=req.message)]),
    ):
        if event.is_final_response() and event.content and event.content.parts:
            reply = "".join(part.text or "" for part in event.content.parts)
    return reply


app = restate.app(services=[chat])

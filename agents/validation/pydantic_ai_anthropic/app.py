"""GREEN: a table-booking assistant on Pydantic AI with an Anthropic model
(``anthropic:claude-sonnet-4-5``), made durable by Restate's integration
(``restate.ext.pydantic``), as Restate's Pydantic AI template writes it: ``RestateAgent``
journals every model request as a step, and the ``reserve_table`` tool POSTs to the
bookings API inside ``restate_context().run_typed``, so a replay reuses the journaled
booking id instead of booking again. The model's client is Pydantic AI's default one
(``AnthropicProvider``: ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL from the environment).

Standalone. Serve it from this folder:

    python app.py --port 9080

Entry: ``TableBooking/book`` with the request as a plain JSON string. BOOKINGS_URL is the
bookings API.
"""

from __future__ import annotations

import argparse
import asyncio
import os

import httpx
import restate
from hypercorn.asyncio import serve
from hypercorn.config import Config
from pydantic_ai import Agent, RunContext
from restate.ext.pydantic import RestateAgent, restate_context

booking_agent = Agent(
    "anthropic:claude-sonnet-4-5",
    system_prompt="You book restaurant tables. Reserve the table the guest asks for, then confirm it briefly.",
)


@booking_agent.tool
async def reserve_table(_run_ctx: RunContext[None], guest_name: str, party_size: int, time: str) -> str:
    """Reserve a table; returns the booking id."""

    async def post_booking() -> str:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                f"{os.environ['BOOKINGS_URL']}/bookings",
                json={"guest_name": guest_name, "party_size": party_size, "time": time},
            )
            response.raise_for_status()
            return str(response.json()["id"])

    # The side effect in a durable step: done once, its result journaled.
    booking_id = await restate_context().run_typed("reserve table", post_booking)
    return f"Table for {party_size} reserved at {time} under {guest_name}: booking {booking_id}."


durable_agent = RestateAgent(booking_agent)
booking_service = restate.Service("TableBooking")


@booking_service.handler()
async def book(_ctx: restate.Context, request: str) -> str:
    result = await durable_agent.run(request)
    return result.output


app = restate.app(services=[booking_service])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    config = Config()
    config.bind = [f"127.0.0.1:{parser.parse_args().port}"]
    asyncio.run(serve(app, config))  # type: ignore[arg-type]

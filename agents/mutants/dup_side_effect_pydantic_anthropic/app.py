"""MUTANT (duplicate_side_effect): a courier assistant on Pydantic AI with an Anthropic
model, through ``restate.ext.pydantic``. ``RestateAgent`` journals every model request, but
the ``schedule_pickup`` tool POSTs to the pickups API as plain code, outside any durable
step (and the agent is not wrapped with ``auto_wrap_tools=True``). Every replay of the
handler (after a crash, a restart or a suspension) reads the model's ``tool_use`` back from
the journal and runs the tool again: a second pickup is booked.

Standalone. Serve it from this folder:

    python app.py --port 9080

Entry: ``Courier/arrange`` with the request as a plain JSON string. PICKUPS_URL is the
pickups API.
"""

from __future__ import annotations

import argparse
import asyncio
import os

import httpx
import restate
from hypercorn.asyncio import serve
from hypercorn.config import Config
from pydantic_ai import Agent
from restate.ext.pydantic import RestateAgent

courier_agent = Agent(
    "anthropic:claude-sonnet-4-5",
    system_prompt="You arrange parcel pickups. Schedule the pickup the customer asks for, then confirm it.",
)


@courier_agent.tool_plain
async def schedule_pickup(address: str, time_window: str) -> str:
    """Schedule a courier pickup; returns the pickup id."""
    # BUG: a side effect outside a durable step. Fix: wrap the POST in
    # restate_context().run_typed("schedule pickup", ...), or RestateAgent(..., auto_wrap_tools=True).
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{os.environ['PICKUPS_URL']}/pickups", json={"address": address, "time_window": time_window}
        )
        response.raise_for_status()
        return f"Pickup {response.json()['id']} scheduled at {address}, {time_window}."


durable_agent = RestateAgent(courier_agent)
courier = restate.Service("Courier")


@courier.handler()
async def arrange(_ctx: restate.Context, request: str) -> str:
    result = await durable_agent.run(request)
    return result.output


app = restate.app(services=[courier])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    config = Config()
    config.bind = [f"127.0.0.1:{parser.parse_args().port}"]
    asyncio.run(serve(app, config))  # type: ignore[arg-type]

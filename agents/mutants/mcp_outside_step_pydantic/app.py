"""MUTANT (duplicate_side_effect): a checkout assistant on Pydantic AI through
``restate.ext.pydantic``, paying through an MCP server. ``RestateAgent`` journals every model
request, and it would journal the calls of an ``MCPToolset`` the agent was built with; but
this agent builds its MCP toolset per run, with Pydantic AI's ``@agent.toolset`` (to send
the request's own header). ``RestateAgent`` wraps the toolsets it can see at construction,
and a per-run toolset does not exist yet then: its ``pay`` calls are plain code, outside any
durable step. Every replay of the handler (after a crash, a restart or a suspension) reads
the model's ``pay`` call back from the journal and calls the MCP tool again: a second charge.

The fix: return a journaled toolset from the function,
``RestateContextRunToolSet(MCPToolset(...), run_options)`` (see
``agents/validation/mcp_in_step_pydantic``), or build the agent with the toolset.

Standalone. Serve it from this folder:

    python app.py --port 9080

Entry: ``Checkout/handle`` with the request as a plain JSON string. PAYMENTS_MCP_URL is the
payments MCP server (streamable HTTP, endpoint ``/mcp``); the OpenAI settings come from the
environment.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import timedelta

import restate
from hypercorn.asyncio import serve
from hypercorn.config import Config
from openai import AsyncOpenAI
from pydantic_ai import Agent, RunContext
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from restate.ext.pydantic import RestateAgent

client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
model = OpenAIChatModel(os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), provider=OpenAIProvider(openai_client=client))
STEP = restate.RunOptions(max_attempts=5, initial_retry_interval=timedelta(milliseconds=200),
                          max_retry_interval=timedelta(seconds=1))

assistant = Agent(
    model,
    instructions="Charge the customer for their order with the pay tool, then confirm the payment briefly.",
    retries=1,
)


@assistant.toolset
def payments(ctx: RunContext[None]) -> MCPToolset:
    # BUG: built per run, after RestateAgent wrapped the agent's toolsets: `pay` runs again on every replay.
    return MCPToolset(
        f"{os.environ['PAYMENTS_MCP_URL']}/mcp",
        id="payments",
        headers={"X-Run": ctx.run_id or ""},
        tool_error_behavior="error",
        read_timeout=10,
    )


durable_assistant = RestateAgent(assistant, run_options=STEP)

checkout = restate.Service("Checkout")


@checkout.handler()
async def handle(ctx: restate.Context, request: str) -> str:
    result = await durable_assistant.run(request)
    return result.output


app = restate.app(services=[checkout])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    config = Config()
    config.bind = [f"127.0.0.1:{parser.parse_args().port}"]
    asyncio.run(serve(app, config))  # type: ignore[arg-type]

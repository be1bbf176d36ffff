"""A checkout assistant on Pydantic AI that pays through an MCP server, made durable by
Restate's integration (``restate.ext.pydantic``). GREEN: ``RestateAgent`` journals every
model request, and the ``MCPToolset`` is wrapped in ``RestateContextRunToolSet`` so every
``tools/call`` runs inside a journaled step (``ctx.run_typed``): a replay reads the payment's
result back from the journal instead of paying again. Tool errors raise (Restate retries
the step, bounded), and the MCP client has a timeout.

Why not let ``RestateAgent`` wrap the MCPToolset itself (it does, with ``RestateMCPToolset``)?
In restate-sdk 1.3.0 that wrapper calls ``MCPToolset.tool_for_tool_def(tool_def)``, which
pydantic-ai 2.x now requires a ``ctx`` for: every run fails with a TypeError. Wrapping the
toolset explicitly in the integration's public ``RestateContextRunToolSet`` journals the
same calls, and ``RestateAgent`` leaves a wrapped toolset as it is.

Standalone (it imports nothing from the harness). Serve it from this folder:

    python app.py --port 9080

Entry: ``Checkout/handle`` with the request as a plain JSON string. Configured by the
environment: OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL, OPENAI_TIMEOUT_S, and
PAYMENTS_MCP_URL (the payments MCP server, streamable HTTP, endpoint ``/mcp``).
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
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from restate.ext.pydantic import RestateAgent, RestateContextRunToolSet

client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))  # Restate owns retries
model = OpenAIChatModel(os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), provider=OpenAIProvider(openai_client=client))

# Bounded: an LLM or payments server that stays down ends in a clean terminal error.
STEP = restate.RunOptions(
    max_attempts=5,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)

# Each call of the MCP server's tools is a journaled step.
payments = RestateContextRunToolSet(
    MCPToolset(
        f"{os.environ['PAYMENTS_MCP_URL']}/mcp",
        id="payments",
        tool_error_behavior="error",  # a failed call raises inside the step: Restate retries it
        read_timeout=10,
    ),
    STEP,
)

assistant = Agent(
    model,
    instructions="Charge the customer for their order with the pay tool, then confirm the payment briefly.",
    toolsets=[payments],
    retries=1,
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

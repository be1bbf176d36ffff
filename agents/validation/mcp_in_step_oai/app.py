"""A checkout agent on the OpenAI Agents SDK, made durable by Restate's integration
(``restate.ext.openai``), paying through an MCP server. GREEN: ``DurableRunner`` journals
every model call, and the MCP server's ``call_tool`` runs inside a journaled step
(``restate_context().run_typed``): a replay reads the payment's result back from the
journal instead of paying again.

``restate.ext.openai`` journals model calls only; the tools the Agents SDK takes from
``mcp_servers`` run as plain code (``agents/mutants/mcp_outside_step_oai`` pays twice). So
this agent gives the SDK an ``MCPServerStreamableHttp`` whose ``call_tool`` is a step; the
tools are still listed from the server. Tool errors raise (Restate retries the step,
bounded), and the MCP client has a timeout.

Standalone (it imports nothing from the harness). Run it from THIS folder, so that
``agents`` is the OpenAI Agents SDK:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``Checkout/handle`` with the request as a plain JSON string. PAYMENTS_MCP_URL is the
payments MCP server (streamable HTTP, endpoint ``/mcp``); the OpenAI settings come from the
environment.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import restate
from agents import Agent, ModelSettings, set_default_openai_api, set_default_openai_client, set_tracing_disabled
from agents.mcp import MCPServerStreamableHttp
from mcp.types import CallToolResult
from openai import AsyncOpenAI
from restate.ext.openai import DurableRunner, raise_terminal_errors, restate_context

set_tracing_disabled(True)
set_default_openai_client(
    AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30"))), use_for_tracing=False
)
set_default_openai_api("chat_completions")

# Bounded: an LLM or MCP server that stays down ends in a clean terminal error.
STEP = restate.RunOptions(
    max_attempts=5,
    initial_retry_interval=timedelta(milliseconds=200),
    max_retry_interval=timedelta(seconds=1),
)


class JournaledMCPServer(MCPServerStreamableHttp):
    """An MCP server whose every tool call is a journaled step."""

    async def call_tool(self, tool_name: str, arguments: dict[str, Any] | None,
                        meta: dict[str, Any] | None = None) -> CallToolResult:
        async def call() -> dict[str, Any]:
            result = await MCPServerStreamableHttp.call_tool(self, tool_name, arguments, meta)
            if result.is_error:  # raise inside the step: Restate retries it, bounded by STEP
                raise RuntimeError(f"MCP tool {tool_name} failed: {result.content}")
            return result.model_dump(mode="json", by_alias=True, exclude_none=True)

        journaled = await restate_context().run_typed(f"Calling mcp tool {tool_name}", call, STEP)
        return CallToolResult.model_validate(journaled)


checkout_agent = Agent(
    name="checkout",
    model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
    instructions="Charge the customer for their order with the pay tool, then confirm the payment briefly.",
    # One tool call at a time: the steps are journaled in the same order on every replay.
    model_settings=ModelSettings(parallel_tool_calls=False),
)

checkout = restate.Service("Checkout")


@checkout.handler()
async def handle(ctx: restate.Context, request: str) -> str:
    async with JournaledMCPServer(
        params={"url": f"{os.environ['PAYMENTS_MCP_URL']}/mcp", "timeout": 10},
        name="payments",
        cache_tools_list=True,
        client_session_timeout_seconds=10,
        failure_error_function=raise_terminal_errors,  # an error fails the attempt: Restate retries
    ) as payments:
        result = await DurableRunner.run(checkout_agent.clone(mcp_servers=[payments]), request, run_options=STEP)
    return str(result.final_output)


app = restate.app(services=[checkout])

"""MUTANT (duplicate_side_effect): a checkout agent on the OpenAI Agents SDK with Restate's
``DurableRunner``, paying through an MCP server (``MCPServerStreamableHttp``). Every LLM call
is journaled, so it looks durable; but ``restate.ext.openai`` journals model calls only: the
tools the Agents SDK takes from ``mcp_servers`` are called as plain code, outside any durable
step. Every replay of the handler (after a crash, a restart or a suspension) reads the
model's ``pay`` call back from the journal and calls the MCP tool again: a second charge.

The fix: call the tool from a ``@durable_function_tool`` whose MCP call is inside
``restate_context().run_typed(...)`` (see ``agents/validation/mcp_in_step_oai``), or use
Pydantic AI, whose ``RestateAgent`` journals MCP tool calls itself.

Standalone. Run it from THIS folder, so that ``agents`` is the OpenAI Agents SDK:

    python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``Checkout/handle`` with the request as a plain JSON string. PAYMENTS_MCP_URL is the
payments MCP server (streamable HTTP, endpoint ``/mcp``); the OpenAI settings come from the
environment.
"""

from __future__ import annotations

import os
from datetime import timedelta

import restate
from agents import Agent, set_default_openai_api, set_default_openai_client, set_tracing_disabled
from agents.mcp import MCPServerStreamableHttp
from openai import AsyncOpenAI
from restate.ext.openai import DurableRunner, raise_terminal_errors

set_tracing_disabled(True)
set_default_openai_client(
    AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30"))), use_for_tracing=False
)
set_default_openai_api("chat_completions")

checkout_agent = Agent(
    name="checkout",
    model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
    instructions="Charge the customer for their order with the pay tool, then confirm the payment briefly.",
)

checkout = restate.Service("Checkout")


@checkout.handler()
async def handle(ctx: restate.Context, request: str) -> str:
    # A tool error raises (as restate.ext.openai's own tools do), so Restate retries the attempt.
    async with MCPServerStreamableHttp(
        params={"url": f"{os.environ['PAYMENTS_MCP_URL']}/mcp", "timeout": 10},
        name="payments",
        cache_tools_list=True,
        client_session_timeout_seconds=10,
        failure_error_function=raise_terminal_errors,
    ) as payments:
        # BUG: the MCP server's tools are not journaled by DurableRunner: `pay` runs again on every replay.
        agent = checkout_agent.clone(mcp_servers=[payments])
        result = await DurableRunner.run(
            agent, request,
            run_options=restate.RunOptions(max_attempts=5, initial_retry_interval=timedelta(milliseconds=200)),
        )
    return str(result.final_output)


app = restate.app(services=[checkout])

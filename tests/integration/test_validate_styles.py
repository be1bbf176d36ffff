"""Both directions, proven on agents nobody tuned the checker for: ``validate`` on standalone
agents in many idioms, frameworks and languages, each started with a plain command from its
own folder, as a user's agent would be.

- Correct agents must be green (exit 0, no finding): the plain ones users write first (the
  default openai client, no ``RunOptions``), bounded steps, litellm, parallel steps joined
  with ``restate.gather``, a Workflow with a durable child call, a Virtual Object with state,
  the OpenAI Agents SDK, Pydantic AI, Google ADK and LangChain through Restate's integrations,
  TypeScript.
- Each mutant must be caught on its planted class **and on nothing else**, by the default
  quick budget, with no scripting. An agent that is merely slow (a client with no timeout)
  gets an advisory, not a finding."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.env.binaries import PROJECT_ROOT

PY = shlex.quote(sys.executable)


@dataclass(frozen=True)
class Agent:
    folder: str
    args: tuple[str, ...]
    caught_as: str | None  # None: validates green
    style: str
    advisory: str | None = None  # a class that must show an advisory (and not fail)

    def __str__(self) -> str:
        return self.folder.rsplit("/", 1)[-1]


HYPERCORN = f"{PY} -m hypercorn app:app --bind 127.0.0.1:{{port}}"
# The MCP agents' payments server: the harness serves this file's `pay` tool (--mcp-tools).
PAY_TOOLS = str(PROJECT_ROOT / "agents/mutants/mcp_outside_step_oai/tools.json")
# The poisoned-journal agents' requests.
CLAIM = "I was charged twice for my March invoice, 49.90 EUR, please refund it {token}"
CHARGE = "My invoice shows a charge I do not recognise {token}"

AGENTS = [
    Agent("agents/validation/docs_default_client", ("--cmd", HYPERCORN), None,
          "fifteen lines as Restate's docs write them: AsyncOpenAI() and ctx.run_typed with no RunOptions",
          advisory="stuck_invocation"),  # its client's 600 s timeout: Restate's abort ends a hang
    Agent("agents/validation/bounded_run_options",
          ("--cmd", HYPERCORN, "--entry", "Router/answer", "--input", '{"message": "My invoice is wrong, please help {token}"}'),
          None, "openai SDK, every LLM call a step bounded by RunOptions"),
    Agent("agents/validation/litellm_router",
          ("--cmd", HYPERCORN, "--entry", "LiteLLMRouter/answer", "--input", '"My invoice is wrong, please help {token}"'),
          None, "litellm.acompletion inside bounded steps"),
    Agent("agents/validation/parallel_gather",
          ("--cmd", HYPERCORN, "--entry", "ParallelRouter/answer",
           "--input", '"I was charged twice and cannot log in {token}"'),
          None, "three LLM steps in parallel, joined with restate.gather"),
    Agent("agents/validation/workflow_children",
          ("--cmd", HYPERCORN, "--entry", "SupportCase/run",
           "--input", '{"customer": "ACME Corp", "message": "We were billed twice this month {token}"}'),
          None, "a Workflow calling a specialist durably with ctx.service_call"),
    Agent("agents/validation/object_with_state",
          ("--cmd", HYPERCORN, "--entry", "Conversation/send", "--input", '"Hi, my last invoice looks wrong {token}"'),
          None, "a Virtual Object with state (ctx.get, ctx.set)"),
    Agent("agents/validation/openai_agents_router",
          ("--cmd", HYPERCORN, "--entry", "SupportRouter/answer",
           "--input", '{"message": "My invoice is wrong, please help {token}"}'),
          None, "OpenAI Agents SDK through restate.ext.openai"),
    Agent("agents/validation/pydantic_ai_router",
          ("--cmd", f"{PY} app.py --port {{port}}", "--stub", "refunds=REFUNDS_URL", "--entry", "BillingAssistant/help",
           "--input", '"I was charged twice for order 1234, please refund it {token}"'),
          None, "Pydantic AI through restate.ext.pydantic, a refund in a step"),
    Agent("agents/validation/adk_router",
          ("--cmd", HYPERCORN, "--stub", "callbacks=CALLBACKS_URL", "--entry", "SupportChat/message",
           "--input", '{"message": "My VPN keeps dropping, please call me back {token}"}'),
          None, "Google ADK (Gemini) through restate.ext.adk, a Virtual Object session, a callback booked in a step"),
    Agent("agents/mutants/dup_side_effect_adk",
          ("--cmd", HYPERCORN, "--stub", "refunds=REFUNDS_URL", "--entry", "BillingChat/message",
           "--input", '{"message": "I was charged twice for order 1234, please refund it {token}"}'),
          "duplicate_side_effect", "Google ADK through restate.ext.adk, a tool POSTs a refund outside a step"),
    Agent("agents/validation/langchain_openai_router",
          ("--cmd", HYPERCORN, "--stub", "tickets=TICKETS_URL", "--entry", "TicketDesk/handle",
           "--input", '"I cannot log in since yesterday {token}"'),
          None, "LangChain create_agent + RestateMiddleware, an OpenAI chat model, a ticket opened in a step"),
    Agent("agents/validation/langchain_anthropic_router",
          ("--cmd", HYPERCORN, "--entry", "TravelDesk/ask",
           "--input", '{"message": "How much is a business seat to Lisbon? {token}"}'),
          None, "LangChain create_agent + RestateMiddleware, an Anthropic chat model"),
    Agent("agents/mutants/dup_llm_langchain",
          ("--cmd", HYPERCORN, "--entry", "OrderTracker/track", "--input", '"Where is my order 4711? {token}"'),
          "duplicate_llm_call", "LangChain create_agent without RestateMiddleware: no model call journaled"),
    Agent("agents/product_agent_ts", ("--cmd", "node dist/index.js --port {port}"), None,
          "TypeScript: Restate TS SDK and the Vercel AI SDK, streamed"),
    Agent("agents/mutants/dup_llm_ts",
          ("--cmd", "node index.mjs --port {port}", "--entry", "Router/answer",
           "--input", '{"message": "My card was charged twice {token}"}'),
          "duplicate_llm_call", "TypeScript, the routing call outside ctx.run"),
    Agent("agents/mutants/dup_llm_followup_py",
          ("--cmd", HYPERCORN, "--entry", "Concierge/reply", "--input", '"My parcel never arrived {token}"'),
          "duplicate_llm_call", "Python, a follow-up call whose prompt has no token, outside ctx.run"),
    Agent("agents/mutants/dup_side_effect_oai",
          ("--cmd", HYPERCORN, "--stub", "tickets=TICKETS_URL",
           "--entry", "HelpDesk/handle", "--input", '"I cannot log in since yesterday {token}"'),
          "duplicate_side_effect", "OpenAI Agents SDK, a tool POSTs outside a step"),
    Agent("agents/mutants/dup_child_http",
          ("--cmd", f"{PY} app.py --port {{port}}", "--env", "INGRESS_URL={ingress_url}", "--entry", "Dispatcher/dispatch",
           "--input", '{"message": "Which plan includes SSO? {token}"}'),
          "duplicate_child_work", "Python, a child started over plain HTTP to the ingress"),
    Agent("agents/mutants/nondet_ts",
          ("--cmd", "node index.mjs {port}", "--entry", "Triage/handle", "--input", '"Where is my parcel? {token}"'),
          "non_determinism", "TypeScript, Math.random() outside ctx.run"),
    Agent("agents/mutants/degraded_fallback",
          ("--cmd", f"{PY} app.py {{port}}", "--entry", "Assistant/ask",
           "--input", '{"message": "How do I reset my password? {token}"}'),
          "degraded_answer", "Python openai SDK, LLM errors swallowed into a journaled apology"),
    Agent("agents/mutants/retry_storm",
          ("--cmd", HYPERCORN, "--entry", "Summarizer/summarize", "--input", '"The app crashes when I upload a photo {token}"'),
          "retry_storm", "Python, a while-True retry inside a step"),
    Agent("agents/mutants/stuck_self_deadlock",
          ("--cmd", HYPERCORN, "--entry", "Conversation/reply", "--input", '{"message": "Please cancel my subscription {token}"}'),
          "stuck_invocation", "Python, a Virtual Object's exclusive handler calling its own key: a deadlock"),
    Agent("agents/mutants/stuck_lost_wakeup",
          ("--cmd", HYPERCORN, "--env", "INGRESS_URL={ingress_url}", "--entry", "Ticket/run",
           "--input", '{"message": "Please cancel my subscription {token}"}'),
          "stuck_invocation", "Python, a Workflow awaiting a promise only in-process work resolves: lost in a crash"),
    Agent("agents/mutants/stuck_no_timeout",
          ("--cmd", HYPERCORN, "--entry", "Writer/draft", "--input", '{"message": "Please cancel my subscription {token}"}'),
          None, "Python, an LLM client with no timeout: slow, not wrong", advisory="stuck_invocation"),
    Agent("agents/validation/anthropic_sdk_router",
          ("--cmd", HYPERCORN, "--entry", "AnthropicRouter/answer", "--input", '"My invoice is wrong, please help {token}"'),
          None, "anthropic SDK alone: AsyncAnthropic() at its defaults, a tool_use router, each call in ctx.run_typed",
          advisory="stuck_invocation"),  # the client's 10 min default timeout, as docs_default_client's
    Agent("agents/mutants/dup_llm_signoff_anthropic",
          ("--cmd", HYPERCORN, "--entry", "SupportDesk/reply", "--input", '"My parcel never arrived {token}"'),
          "duplicate_llm_call", "anthropic SDK, a token-less follow-up call (built from a tool_use) outside ctx.run"),
    Agent("agents/validation/pydantic_ai_anthropic",
          ("--cmd", f"{PY} app.py --port {{port}}", "--stub", "bookings=BOOKINGS_URL", "--entry", "TableBooking/book",
           "--input", '"Please book a table for 4 at 8pm tonight under Ada {token}"'),
          None, "Pydantic AI on anthropic:claude-... through restate.ext.pydantic, a booking in a step"),
    Agent("agents/mutants/dup_side_effect_pydantic_anthropic",
          ("--cmd", f"{PY} app.py --port {{port}}", "--stub", "pickups=PICKUPS_URL", "--entry", "Courier/arrange",
           "--input", '"Please pick up my parcel at 1 Main Street tomorrow morning {token}"'),
          "duplicate_side_effect", "Pydantic AI on Anthropic, a tool POSTs outside a durable step"),
    Agent("agents/validation/ai_sdk_anthropic_ts",
          ("--cmd", "node index.mjs --port {port}", "--stub", "labels=LABELS_URL", "--entry", "ReturnsDesk/handle",
           "--input", '"I want to return order 1234, it arrived broken {token}"'),
          None, "TypeScript, Vercel AI SDK + @ai-sdk/anthropic: each generateText and the tool's POST in ctx.run"),
    Agent("agents/mutants/dup_side_effect_anthropic_ts",
          ("--cmd", "node index.mjs --port {port}", "--stub", "pager=PAGER_URL", "--entry", "Escalations/raise",
           "--input", '"Checkout fails for every customer since 10:00 {token}"'),
          "duplicate_side_effect", "TypeScript, Vercel AI SDK + @ai-sdk/anthropic, the tool's POST outside ctx.run"),
    Agent("agents/mutants/mcp_outside_step_oai",
          ("--cmd", HYPERCORN, "--mcp", "payments=PAYMENTS_MCP_URL", "--mcp-tools", PAY_TOOLS,
           "--entry", "Checkout/handle", "--input", '"Please charge order 1234 for my new headphones {token}"'),
          "duplicate_side_effect", "OpenAI Agents SDK, an MCP server's tool (mcp_servers=) that DurableRunner does not journal"),
    Agent("agents/validation/mcp_in_step_oai",
          ("--cmd", HYPERCORN, "--mcp", "payments=PAYMENTS_MCP_URL", "--mcp-tools", PAY_TOOLS,
           "--entry", "Checkout/handle", "--input", '"Please charge order 1234 for my new headphones {token}"'),
          None, "OpenAI Agents SDK, an MCP server whose call_tool is a journaled step"),
    Agent("agents/mutants/mcp_outside_step_pydantic",
          ("--cmd", f"{PY} app.py --port {{port}}", "--mcp", "payments=PAYMENTS_MCP_URL", "--mcp-tools", PAY_TOOLS,
           "--entry", "Checkout/handle", "--input", '"Please charge order 1234 for my new headphones {token}"'),
          "duplicate_side_effect", "Pydantic AI, an MCPToolset built per run (@agent.toolset) that RestateAgent never wraps"),
    Agent("agents/validation/mcp_in_step_pydantic",
          ("--cmd", f"{PY} app.py --port {{port}}", "--mcp", "payments=PAYMENTS_MCP_URL", "--mcp-tools", PAY_TOOLS,
           "--entry", "Checkout/handle", "--input", '"Please charge order 1234 for my new headphones {token}"'),
          None, "Pydantic AI through restate.ext.pydantic, an MCPToolset in RestateContextRunToolSet: each tools/call a step"),
    # The poisoned journal: a bad answer (a schema violation, tool arguments that do not parse)
    # journaled by its step and parsed after it. Each mutant's twin parses inside the step.
    Agent("agents/mutants/poisoned_parse_outside_sdk",
          ("--cmd", HYPERCORN, "--entry", "ClaimIntake/extract", "--input", f'"{CLAIM}"'),
          "poisoned_journal", "openai SDK, structured output not strict, the raw answer validated after the step"),
    Agent("agents/validation/parse_inside_step_sdk",
          ("--cmd", HYPERCORN, "--entry", "ClaimIntake/extract", "--input", f'"{CLAIM}"'),
          None, "openai SDK, structured output not strict, validated inside the step"),
    Agent("agents/mutants/poisoned_tool_args_sdk",
          ("--cmd", HYPERCORN, "--entry", "TicketRouter/route", "--input", f'"{CHARGE}"'),
          "poisoned_journal", "openai SDK, tools not strict, the raw tool-call arguments parsed after the step"),
    Agent("agents/validation/tool_args_inside_step_sdk",
          ("--cmd", HYPERCORN, "--entry", "TicketRouter/route", "--input", f'"{CHARGE}"'),
          None, "openai SDK, tools not strict, the tool-call arguments parsed inside the step"),
    Agent("agents/mutants/poisoned_output_type_oai",
          ("--cmd", HYPERCORN, "--entry", "ClaimIntake/extract", "--input", json.dumps({"message": CLAIM})),
          "poisoned_journal", "OpenAI Agents SDK, an output_type not strict: parsed after DurableRunner's model step"),
    Agent("agents/validation/output_type_rerun_oai",
          ("--cmd", HYPERCORN, "--entry", "ClaimIntake/extract", "--input", json.dumps({"message": CLAIM})),
          None, "OpenAI Agents SDK, an output_type not strict; a ModelBehaviorError runs the agent again, in new steps"),
]


# Judged in test_validate.py: the reference agents' mutants (modules of agents/mutants) and
# the handlers that wait for a human (needs input).
ELSEWHERE = {"agents/validation/awaits_approval",
             # --proxy in front of a payment service the test starts: judged in test_validate_tools.py
             "agents/mutants/payment_twice_proxy", "agents/validation/payment_in_step_proxy",
             "agents/validation/payment_real_ids_proxy",
             # structured output (response_format, text.format, forced tools, responseSchema): test_validate_structured.py
             "agents/validation/oai_agents_output_type", "agents/validation/litellm_response_format",
             "agents/validation/pydantic_ai_output_type", "agents/validation/langchain_structured",
             "agents/validation/anthropic_structured", "agents/validation/gemini_structured",
             "agents/validation/openai_parse_structured"}


def test_every_agent_folder_has_a_verdict_here() -> None:
    """A new agent under agents/mutants or agents/validation cannot go untested: each folder
    is validated above, with its expected verdict (a mutant's planted class, or green)."""
    folders = {f"agents/{kind}/{p.name}" for kind in ("mutants", "validation")
               for p in (PROJECT_ROOT / "agents" / kind).iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders - ELSEWHERE == {a.folder for a in AGENTS if a.folder.startswith(("agents/mutants", "agents/validation"))}


@pytest.mark.parametrize("agent", AGENTS, ids=str)
def test_validate_judges_an_agent_it_was_not_tuned_for(agent: Agent, tmp_path: Path, no_leftovers) -> None:
    out = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "validate", "--cwd", str(PROJECT_ROOT / agent.folder), *agent.args,
         "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    results = sorted(out.glob("*/results.json"))
    assert results, output
    classes = json.loads(results[-1].read_text())["validation"]["classes"]
    failed = {name for name, row in classes.items() if row["verdict"] == "fail"}
    if agent.caught_as is None:
        assert done.returncode == 0 and not failed, f"{agent.style}: {failed}\n{output}"
        assert "green: no safety finding" in output, output
    else:
        assert done.returncode == 1, output
        assert failed == {agent.caught_as}, f"{agent.style}: caught {failed}\n{output}"  # that class alone
        row = classes[agent.caught_as]
        assert row["scenario"] and row["why"] and row["fix"] and row["evidence"], row
    if agent.advisory is not None:
        row = classes[agent.advisory]
        assert row["verdict"] == "advisory" and row["advisories"], row
        assert all(a["message"] and a["advice"] for a in row["advisories"]), row

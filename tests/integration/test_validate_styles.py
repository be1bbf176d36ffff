"""Both directions, proven on agents nobody tuned the checker for: ``validate`` on standalone
agents in many idioms, frameworks and languages, each started with a plain command from its
own folder, as a user's agent would be.

- Correct agents must be green (exit 0, no finding): the plain ones users write first (the
  default openai client, no ``RunOptions``), bounded steps, litellm, parallel steps joined
  with ``restate.gather``, a Workflow with a durable child call, a Virtual Object with state,
  the OpenAI Agents SDK and Pydantic AI through Restate's integrations, TypeScript.
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
]


# Judged in test_validate.py: the reference agents' mutants (modules of agents/mutants) and
# the handlers that wait for a human (needs input).
ELSEWHERE = {"agents/validation/awaits_approval"}


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

"""Detection proven on agents nobody tuned the checker for: ``validate`` on standalone agents
in other frameworks and languages, each started with a plain command from its own folder,
as a user's agent would be. The green ones (the OpenAI Agents SDK and Pydantic AI through
Restate's integrations, the TypeScript ProductAgent) must have no finding; each mutant must
be caught with its bug class, by the default quick budget, with no scripting."""

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

    def __str__(self) -> str:
        return self.folder.rsplit("/", 1)[-1]


AGENTS = [
    Agent("agents/validation/openai_agents_router",
          ("--cmd", f"{PY} -m hypercorn app:app --bind 127.0.0.1:{{port}}", "--entry", "SupportRouter/answer",
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
          ("--cmd", f"{PY} -m hypercorn app:app --bind 127.0.0.1:{{port}}", "--entry", "Concierge/reply",
           "--input", '"My parcel never arrived {token}"'),
          "duplicate_llm_call", "Python, a follow-up call whose prompt has no token, outside ctx.run"),
    Agent("agents/mutants/dup_side_effect_oai",
          ("--cmd", f"{PY} -m hypercorn app:app --bind 127.0.0.1:{{port}}", "--stub", "tickets=TICKETS_URL",
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
          ("--cmd", f"{PY} -m hypercorn app:app --bind 127.0.0.1:{{port}}", "--entry", "Summarizer/summarize",
           "--input", '"The app crashes when I upload a photo {token}"'),
          "retry_storm", "Python, a while-True retry inside a step"),
    Agent("agents/mutants/stuck_no_timeout",
          ("--cmd", f"{PY} -m hypercorn app:app --bind 127.0.0.1:{{port}}", "--entry", "Writer/draft",
           "--input", '{"message": "Please cancel my subscription {token}"}'),
          "stuck_invocation", "Python, an LLM client with no timeout"),
]


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
    else:
        assert done.returncode == 1, output
        assert agent.caught_as in failed, f"{agent.style}: caught {failed}\n{output}"
        row = classes[agent.caught_as]
        assert row["scenario"] and row["why"] and row["fix"] and row["evidence"], row

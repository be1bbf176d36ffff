"""Agents that ask their LLM for structured output validate green with nothing beyond
``--cmd``: the fake LLM answers each framework's request for a schema (``response_format``,
the Responses API's ``text.format``, a forced tool, Anthropic's ``output_config``, Gemini's
``responseSchema``/``responseJsonSchema``) with an instance of that schema, which the agent's
own parser accepts. Written as Restate's workflow examples write them (a claim extracted as
``ClaimData``, then assessed and paid), each parsing its answer inside the step that made the
call, so that a malformed answer is asked again instead of journaled for good.

Each is validated end to end by the default quick budget. Where the baseline asked for an
output that is not strict (the provider does not guarantee the schema), the plan aims a
schema violation at that call: the run must exist, be judged by the poisoned-journal oracle,
and pass. A baseline whose structured answer did not parse would fail the agent outright."""

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
HYPERCORN = f"{PY} -m hypercorn app:app --bind 127.0.0.1:{{port}}"


@dataclass(frozen=True)
class StructuredAgent:
    folder: str
    command: str
    style: str
    value_probe: str | None = None  # a bad answer the plan aims at it, judged by the poisoned-journal oracle
    advisory: str | None = None  # a class that shows an advisory (and does not fail)

    def __str__(self) -> str:
        return self.folder.rsplit("/", 1)[-1]


AGENTS = [
    StructuredAgent("agents/validation/oai_agents_output_type", HYPERCORN,
                    "OpenAI Agents SDK + restate.ext.openai, output_type=ClaimData (strict text.format, $defs, enum, "
                    "list, bounds); an unusable answer (malformed, refused, empty) runs that agent again",
                    advisory="stuck_invocation"),  # the SDK's default client: 10 min timeout, 2 retries
    StructuredAgent("agents/validation/litellm_response_format", HYPERCORN,
                    "litellm acompletion(response_format=ClaimData) in ctx.run_typed, Restate's default retries, "
                    "parsed inside the step", advisory="stuck_invocation"),  # litellm's default timeout
    StructuredAgent("agents/validation/pydantic_ai_output_type", f"{PY} app.py --port {{port}}",
                    "Pydantic AI + restate.ext.pydantic, output_type=ClaimData (a strict final_result tool)"),
    StructuredAgent("agents/validation/langchain_structured", HYPERCORN,
                    "LangChain create_agent(response_format=ClaimData) + RestateMiddleware (not strict), and "
                    "with_structured_output in ctx.run_typed", value_probe="llm-schema-violation-at-call-1"),
    StructuredAgent("agents/validation/anthropic_structured", HYPERCORN,
                    "anthropic SDK: forced tool use and messages.parse(output_format=...) (output_config), "
                    "each parsed inside ctx.run_typed",
                    # the forced tool: Anthropic hands arguments over parsed, so they can only break the schema
                    value_probe="llm-schema-violation-at-call-1",
                    advisory="stuck_invocation"),  # a 30 s client timeout against the run's 4 s abort
    StructuredAgent("agents/validation/openai_parse_structured", HYPERCORN,
                    "openai SDK: responses.parse(text_format=...), chat.completions.parse and a json_object answer, "
                    "each parsed inside ctx.run_typed", value_probe="llm-schema-violation-at-call-3"),  # json_object
    StructuredAgent("agents/validation/gemini_structured", HYPERCORN,
                    "google-genai: response_schema=ClaimData and response_json_schema, each parsed inside "
                    "ctx.run_typed", advisory="stuck_invocation"),  # Gemini schemas are enforced: no violation planned
]


@pytest.mark.parametrize("agent", AGENTS, ids=str)
def test_an_agent_asking_for_structured_output_validates_green(agent: StructuredAgent, tmp_path: Path,
                                                                no_leftovers) -> None:
    out = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "validate", "--cwd", str(PROJECT_ROOT / agent.folder),
         "--cmd", agent.command, "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    results = sorted(out.glob("*/results.json"))
    assert results, output
    report = json.loads(results[-1].read_text())
    classes = report["validation"]["classes"]
    failed = {name for name, row in classes.items() if row["verdict"] == "fail"}
    assert done.returncode == 0 and not failed, f"{agent.style}: {failed}\n{output}"
    assert "green: no safety finding" in output, output
    # The committed answer is the parsed structured answer: its strings carry the (masked) token.
    assert "{token}" in report["validation"]["baseline"], report["validation"]["baseline"]
    if agent.value_probe is not None:
        runs = {scenario["name"]: scenario for scenario in report["scenarios"]}
        assert agent.value_probe in runs, f"{agent.value_probe} not planned: {sorted(runs)}\n{output}"
        judged = [f for f in runs[agent.value_probe]["findings"] if f["bug_class"] == "poisoned_journal"]
        assert judged and all(f["ok"] and f["exercised"] for f in judged), judged
        assert classes["poisoned_journal"]["verdict"] == "pass", classes["poisoned_journal"]
    if agent.advisory is not None:
        row = classes[agent.advisory]
        assert row["verdict"] == "advisory" and row["advisories"], row

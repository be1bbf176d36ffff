"""The scenario catalogue against the reference agents, on real restate-server,
Toxiproxy, fake-LLM and agent processes; and the mutant that proves the checker bites."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.results import ScenarioResult
from harness.scenario import run_scenario
from scenarios import CATALOGUE
from scenarios.agents import UNJOURNALED_ROUTING_MUTANT
from scenarios.local_router import KILL_DURING_SPECIALIST_CALL, KILL_RESTATE_SERVER


def explain(result: ScenarioResult) -> str:
    lines = [f"{result.name}: {result.verdict}", *result.errors]
    lines += [f"  {'ok ' if f['ok'] else 'BAD'} {f['check']}: {f['message']}" for f in result.findings]
    lines += [f"  call #{c['id']} {c['class']}: {c['reason']}" for c in result.calls]
    lines += [f"--- {name}\n{tail}" for name, tail in result.log_tails.items()]
    return "\n".join(lines)


@pytest.mark.parametrize("scenario", CATALOGUE, ids=lambda s: f"{s.name}[{s.agent_label}]")
def test_reference_agents_pass_every_scenario(scenario, tmp_path: Path) -> None:
    result = run_scenario(scenario, tmp_path)
    if scenario.expect_failure:
        assert result.verdict == "expected failure", explain(result)
        assert result.invocations["failed"] == result.invocations["sent"] >= 1
    else:
        assert result.verdict == "pass", explain(result)
        assert result.invocations["completed"] == result.invocations["sent"] >= 1
    assert result.llm_calls["duplicate"] == 0
    assert len(result.faults) == len(scenario.faults)
    assert all(f["at_s"] >= 0 for f in result.faults)


# A kill after routing: the mutant asks for the routing decision again on replay.
@pytest.mark.parametrize("scenario", [KILL_DURING_SPECIALIST_CALL, KILL_RESTATE_SERVER], ids=lambda s: s.name)
def test_routing_outside_ctx_run_is_caught_as_a_duplicate(scenario, tmp_path: Path) -> None:
    mutant = run_scenario(scenario.with_agents(UNJOURNALED_ROUTING_MUTANT), tmp_path / "mutant")
    reference = run_scenario(scenario, tmp_path / "reference")

    assert mutant.verdict == "fail", explain(mutant)
    assert mutant.llm_calls["duplicate"] >= 1, explain(mutant)
    failed = {f["check"] for f in mutant.findings if not f["ok"]}
    assert "no duplicate LLM calls" in failed
    # The repeated call is the routing call (the one with tools), not the specialist's.
    routing = next(c for c in mutant.calls if c["id"] == 1)
    assert {c["fingerprint"] for c in mutant.calls if c["class"] == "duplicate"} == {routing["fingerprint"]}

    assert reference.verdict == "pass", explain(reference)
    assert reference.llm_calls["duplicate"] == 0

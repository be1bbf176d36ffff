"""The scenario catalogue against the reference agents, on real restate-server,
Toxiproxy, fake-LLM and agent processes; and the mutant that proves the checker bites."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runner.scenario import run_scenario
from scenarios import CATALOGUE


@pytest.mark.parametrize("scenario", CATALOGUE, ids=lambda s: f"{s.name}[{s.agent_label}]")
def test_reference_agents_pass_every_scenario(scenario, tmp_path: Path) -> None:
    result = run_scenario(scenario, tmp_path)
    if scenario.expect_failure:
        assert result.verdict == "expected failure", result.explain()
        assert result.invocations["failed"] == result.invocations["sent"] >= 1
    else:
        assert result.verdict == "pass", result.explain()
        assert result.invocations["completed"] == result.invocations["sent"] >= 1
    assert result.llm_calls["duplicate"] == 0
    assert len(result.faults) == len(scenario.faults)
    assert all(f["at_s"] >= 0 for f in result.faults)

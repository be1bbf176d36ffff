"""The scenario catalogue against the reference agents, on real restate-server,
Toxiproxy, fake-LLM and agent processes; and the mutant that proves the checker bites."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.env.cleanup import Cleanup
from harness.env.forkserver import ForkServer
from harness.runner.pool import EnvironmentPool
from harness.runner.scenario import run_scenario
from harness.settings import Settings
from scenarios import CATALOGUE


@pytest.fixture(scope="module")
def environments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvironmentPool]:
    """As ``harness run`` does: a scenario reuses the environment an earlier one left clean."""
    with Cleanup() as cleanup, ForkServer(cleanup) as launcher, EnvironmentPool(
        tmp_path_factory.mktemp("environments"), Settings(), cleanup, launcher=launcher
    ) as pool:
        yield pool


@pytest.mark.parametrize("scenario", CATALOGUE, ids=lambda s: f"{s.name}[{s.agent_label}]")
def test_reference_agents_pass_every_scenario(scenario, tmp_path: Path, environments: EnvironmentPool) -> None:
    result = run_scenario(scenario, tmp_path, pool=environments)
    if scenario.expect_failure:
        assert result.verdict == "expected failure", result.explain()
        assert result.invocations["failed"] == result.invocations["sent"] >= 1
    else:
        assert result.verdict == "pass", result.explain()
        assert result.invocations["completed"] == result.invocations["sent"] >= 1
    assert result.llm_calls["duplicate"] == 0
    assert len(result.faults) == len(scenario.faults)
    assert all(f.at_s >= 0 for f in result.faults)

"""A verdict that depends on timing, checked under repetition: a correct agent whose three LLM
steps run in parallel (``restate.gather``) is killed while each of its parallel calls is held,
three times each. Which answer comes back first, and which results are journaled before the
kill, differ from run to run; no run may show a duplicate LLM call, and every run must finish.
(A false duplicate here was seen in 2 of 6 validations, when calls were tied to steps by
timing instead of by the journaled value.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.checker.checks import NoDuplicateLLMCalls
from harness.checker.liveness import RecoversAfterHealing
from harness.env.binaries import PROJECT_ROOT
from harness.env.cleanup import Cleanup
from harness.nemesis.faults import Kill
from harness.nemesis.triggers import LLMCallHeld
from harness.runner.pool import EnvironmentPool
from harness.runner.scenario import Scenario, run_scenario
from harness.settings import Settings
from harness.validate.plan import Probe
from harness.validate.agent import parse_agent_under_test
from harness.workload import Requests

FOLDER = PROJECT_ROOT / "agents" / "validation" / "parallel_gather"
REPEATS = 3


@pytest.mark.parametrize("held", [1, 2, 3])
def test_killing_a_parallel_steps_agent_at_any_held_call_never_gives_a_duplicate(held: int, tmp_path: Path,
                                                                                  no_leftovers) -> None:
    target = parse_agent_under_test([f"{sys.executable} -m hypercorn app:app --bind 127.0.0.1:{{port}}"], [], cwd=str(FOLDER))
    probe = Probe(f"kill-at-parallel-call-{held}", "", hold_call=held)
    with Cleanup() as cleanup, EnvironmentPool(tmp_path / "envs", Settings(), cleanup) as pool:
        for attempt in range(REPEATS):
            scenario = Scenario(
                name=f"{probe.name}-{attempt}", description="SIGKILL while a parallel LLM call is held",
                agents=target.agents, script=probe.script(),
                workload=Requests("ParallelRouter", "answer", "I was charged twice and cannot log in {token}"),
                faults=(Kill("agent", when=LLMCallHeld(held)),),
                checks=(NoDuplicateLLMCalls(), RecoversAfterHealing(bound_s=30.0)), deadline_s=30.0,
            )
            result = run_scenario(scenario, tmp_path / "runs", cleanup=cleanup, pool=pool)
            assert result.verdict == "pass", result.explain()
            assert result.llm_calls["duplicate"] == 0 and result.llm_calls["committed"] == 4, result.llm_calls
            assert result.faults and result.faults[0].kind == "kill", result.faults  # the kill did happen

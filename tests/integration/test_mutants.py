"""Mutants with planted resilience bugs: the harness must catch each one, while the
reference agents pass the same scenario. This is what shows the checker is not vacuous."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.checker.checks import FinishedDespiteTransientFaults
from harness.checker.liveness import RecoversAfterHealing
from harness.checker.poisoned import NoPoisonedJournal
from harness.env.binaries import PROJECT_ROOT
from harness.env.environment import AgentSpec
from harness.nemesis.faults import LLMMatch, LLMSchemaViolation, LLMSlowFirstToken
from harness.nemesis.triggers import LLMCallsArrived
from harness.runner.scenario import Scenario, run_scenario
from harness.workload import Requests
from scenarios.agents import (
    ACCOUNT_AGENT,
    PRODUCT_AGENT_TS,
    RANDOM_ROUTING_MUTANT,
    REFUND_OUTSIDE_RUN_MUTANT,
    REMOTE_ROUTER,
    UNJOURNALED_ROUTING_MUTANT,
)
from scenarios.llm_scripts import BILLING_ANSWER
from scenarios.local_router import (
    BASELINE,
    KILL_DURING_SPECIALIST_CALL,
    KILL_RESTATE_SERVER,
)
from scenarios.remote_router import SCENARIOS as REMOTE_SCENARIOS


def failed_checks(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.check for f in result.findings if not f.ok}


# A kill after routing: the mutant asks for the routing decision again on replay.
@pytest.mark.parametrize("scenario", [KILL_DURING_SPECIALIST_CALL, KILL_RESTATE_SERVER], ids=lambda s: s.name)
def test_routing_outside_ctx_run_is_caught_as_a_duplicate(scenario, tmp_path: Path) -> None:
    mutant = run_scenario(scenario.with_agents(UNJOURNALED_ROUTING_MUTANT), tmp_path / "mutant")
    reference = run_scenario(scenario, tmp_path / "reference")

    assert mutant.verdict == "fail", mutant.explain()
    assert mutant.llm_calls["duplicate"] >= 1, mutant.explain()
    assert "no duplicate LLM calls" in failed_checks(mutant)
    # The repeated call is the routing call (the one with tools), not the specialist's.
    routing = next(c for c in mutant.calls if c.id == 1)
    assert {c.fingerprint for c in mutant.calls if c.class_ == "duplicate"} == {routing.fingerprint}

    assert reference.verdict == "pass", reference.explain()
    assert reference.llm_calls["duplicate"] == 0


def test_a_refund_outside_ctx_run_is_caught_as_a_duplicate_side_effect(tmp_path: Path) -> None:
    kill_billing = next(s for s in REMOTE_SCENARIOS if s.name == "kill-remote-agent-mid-call")
    mutant = run_scenario(
        kill_billing.with_agents(REMOTE_ROUTER, REFUND_OUTSIDE_RUN_MUTANT, ACCOUNT_AGENT, PRODUCT_AGENT_TS), tmp_path / "m"
    )
    reference = run_scenario(kill_billing, tmp_path / "r")

    assert mutant.verdict == "fail", mutant.explain()
    assert mutant.side_effects["duplicate"] >= 1, mutant.explain()
    assert "no duplicate side effects" in failed_checks(mutant)
    assert reference.verdict == "pass", reference.explain()
    assert reference.side_effects == {"committed": 1, "wasted": 0, "duplicate": 0}


def test_random_routing_outside_ctx_run_is_exposed_as_a_journal_mismatch_by_always_replay(tmp_path: Path) -> None:
    # Each replay redraws a coin; eight requests, each suspended and replayed, make a miss
    # (every redraw matching) vanishingly unlikely.
    scenario = replace(BASELINE, workload=replace(BASELINE.workload, n=8), deadline_s=20)
    mutant = run_scenario(scenario.with_agents(RANDOM_ROUTING_MUTANT), tmp_path / "m", always_replay=True)
    reference = run_scenario(scenario, tmp_path / "r", always_replay=True)

    assert mutant.verdict == "fail", mutant.explain()
    assert "no journal mismatch" in failed_checks(mutant), mutant.explain()
    assert any("RT0016" in f.message for f in mutant.findings)
    assert reference.verdict == "pass", reference.explain()
    assert reference.always_replay


def test_always_replay_makes_a_waiting_router_suspend_where_the_default_does_not(tmp_path: Path) -> None:
    # The router waits ~1 s on its callee: shorter than the tests' 2 s inactivity timeout,
    # so it suspends only when always-replay sets that timeout to 0.
    baseline = next(s for s in REMOTE_SCENARIOS if s.name == "remote-baseline")
    slow = replace(
        baseline,
        faults=(LLMSlowFirstToken(match=LLMMatch(system_contains="billing specialist"), answer=BILLING_ANSWER, delay_s=1.0),),
    )
    replayed = run_scenario(slow, tmp_path / "replay", always_replay=True)
    default = run_scenario(slow, tmp_path / "default")

    assert replayed.verdict == "pass", replayed.explain()
    assert replayed.suspended >= 1
    assert default.verdict == "pass", default.explain()
    assert default.suspended == 0


# A bad answer journaled and parsed after its step is replayed by every retry: the mutant
# never finishes once the LLM answers well again, and that is the poisoned journal's
# finding alone (the liveness check leaves the request to it); its twin, parsing inside the
# step, asks again and finishes.
def _claim_intake(folder: str) -> AgentSpec:
    return AgentSpec("intake", (sys.executable, "-m", "hypercorn", "app:app", "--bind", "127.0.0.1:{port}"),
                     ("ClaimIntake",), cwd=PROJECT_ROOT / "agents" / folder, label=folder.rsplit("/", 1)[-1])


SCHEMA_VIOLATION_ONCE = Scenario(
    "schema-violation-once", "the first answer breaks the requested schema; the LLM answers well afterwards",
    agents=(_claim_intake("mutants/poisoned_parse_outside_sdk"),), script=lambda llm: llm.on().auto(),
    workload=Requests("ClaimIntake", "extract", "I was charged twice for my March invoice, 49.90 EUR {token}"),
    faults=(LLMSchemaViolation(times=1, until=LLMCallsArrived(1)),),
    checks=(RecoversAfterHealing(bound_s=8.0), NoPoisonedJournal(), FinishedDespiteTransientFaults()),
    deadline_s=12.0,
)


def test_a_bad_answer_parsed_outside_its_step_is_caught_as_a_poisoned_journal_alone(tmp_path: Path) -> None:
    mutant = run_scenario(SCHEMA_VIOLATION_ONCE, tmp_path / "m")
    twin = run_scenario(replace(SCHEMA_VIOLATION_ONCE, agents=(_claim_intake("validation/parse_inside_step_sdk"),)),
                        tmp_path / "t")

    assert mutant.verdict == "fail", mutant.explain()
    assert failed_checks(mutant) == {"no poisoned journal"}, mutant.explain()
    poisoned = next(f for f in mutant.findings if f.check == "no poisoned journal")
    assert "step 'extract claim'" in poisoned.message and "schema_violation" in poisoned.message
    assert "validation error for ClaimData" in poisoned.message
    assert mutant.llm_calls == {"committed": 1, "wasted": 0, "duplicate": 0}  # never asked again

    assert twin.verdict == "pass", twin.explain()
    assert twin.llm_calls == {"committed": 1, "wasted": 1, "duplicate": 0}  # the bad answer, then the good one

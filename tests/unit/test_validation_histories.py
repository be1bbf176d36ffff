"""The validation's checks on histories recorded from real `validate` runs
(tests/fixtures/validation, each the history.json of one probe): what the advisories say of
the plain docs-style agent, that the retry-storm mutant is a finding, that parallel steps
killed mid-flight give no duplicate, and that a lost wake-up is stuck after healing.

Recorded with restate-server 1.7.12 by `restate-resilience validate` on
agents/validation/docs_default_client, agents/mutants/retry_storm,
agents/validation/parallel_gather and agents/mutants/stuck_lost_wakeup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checker.checks import FinishedDespiteTransientFaults, NoDuplicateLLMCalls, SameAnswerAsBaseline
from harness.checker.classify import classify_history, llm_calls
from harness.checker.liveness import HangEnded, RecoversAfterHealing
from harness.checker.retries import CallsPerAttempt, RetriesBounded
from harness.history import History
from harness.restate_settings import FAST

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "validation"


def load(name: str) -> History:
    return History.from_json(json.loads((FIXTURES / f"{name}.json").read_text()))


def judge(check: object, history: History):  # type: ignore[no-untyped-def]
    return check.evaluate(history, classify_history(history))  # type: ignore[attr-defined]


def test_the_runs_recorded_their_restate_settings() -> None:
    assert load("docs-default-client-llm-hang").restate == FAST


def test_a_default_clients_hang_is_ended_by_restates_abort_and_is_an_advisory() -> None:
    history = load("docs-default-client-llm-hang")
    result = judge(HangEnded(severity="advisory"), history)
    assert (result.ok, result.severity, result.failed) == (False, "advisory", False)
    assert "until Restate aborted the attempt" in result.message and "11 min" in result.message
    assert "timeout=30" in result.advice
    assert judge(RecoversAfterHealing(bound_s=15.0), history).ok  # and it finished once it healed


def test_a_default_client_makes_three_calls_per_attempt_an_advisory_not_a_finding() -> None:
    history = load("docs-default-client-llm-down-then-back")
    assert judge(CallsPerAttempt(at_most=10), history).ok
    advisory = judge(CallsPerAttempt(at_most=1, severity="advisory"), history)
    assert not advisory.ok and "about 3 LLM call(s) per Restate attempt" in advisory.message
    unbounded = judge(RetriesBounded(severity="advisory"), history)
    assert not unbounded.ok and "70 attempts" in unbounded.message
    assert judge(RecoversAfterHealing(bound_s=15.0), history).ok


def test_a_retry_loop_inside_a_step_is_a_retry_storm_finding() -> None:
    result = judge(CallsPerAttempt(at_most=10), load("retry-storm-llm-down-then-back"))
    assert result.failed and result.bug_class == "retry_storm"
    calls = int(result.message.split("about ")[1].split()[0])
    assert calls > 100, result.message  # a while-True loop 20 ms apart, for the 6 s outage


@pytest.mark.parametrize("held", [1, 2, 3, 4])
def test_parallel_steps_killed_at_any_held_call_give_no_duplicate(held: int) -> None:
    history = load(f"parallel-gather-kill-at-llm-call-{held}")
    assert judge(NoDuplicateLLMCalls(), history).ok
    calls = llm_calls(classify_history(history))
    assert sum(c.label == "committed" for c in calls) == 4  # three parallel steps and the summary
    assert any(c.label == "wasted" for c in calls)  # the kill hit a call whose answer was never journaled


def test_a_wake_up_lost_in_a_crash_is_stuck_after_healing_and_says_on_what() -> None:
    result = judge(RecoversAfterHealing(bound_s=15.0), load("stuck-lost-wakeup-kill-at-llm-call-1"))
    assert result.failed and result.bug_class == "stuck_invocation"
    assert "the durable promise 'answer'" in result.message and "after every fault healed" in result.message


def test_a_request_that_gave_up_under_healed_faults_is_an_advisory_not_a_degraded_answer() -> None:
    # Seen in CI: the killed agent's restart spent the invocation's attempts, and the summary
    # step (max_attempts=4) failed terminally on its first failure afterwards. The recorded
    # kill, with its request ending that way:
    data = json.loads((FIXTURES / "parallel-gather-kill-at-llm-call-1.json").read_text())
    root = data["requests"][0]["invocation_id"]
    for row in data["invocations"]:
        if row["id"] == root:
            row.update(completion_result="failure", completion_failure="[500] APITimeoutError('Request timed out.')")
    data["outputs"].pop(root, None)
    history = History.from_json(data)
    assert judge(SameAnswerAsBaseline(baseline="anything"), history).ok  # no answer was committed
    result = judge(FinishedDespiteTransientFaults(severity="advisory"), history)
    assert (result.ok, result.failed, result.bug_class) == (False, False, "degraded_answer")
    assert "APITimeoutError" in result.message and "max_duration" in result.advice

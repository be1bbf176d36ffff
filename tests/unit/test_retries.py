"""Retry storms judged per Restate attempt while the LLM is down: calls multiplied inside an
attempt are a finding above 10 and an advisory above 1; retrying for as long as Restate's
policy allows is an advisory priced in production's 70 attempts; a terminal failure within
the expected time is opt-in."""

from __future__ import annotations

import pytest

from harness.checker.retries import CallsPerAttempt, RetriesBounded, TerminalWithin
from harness.history import FaultRecord, History, Invocation, LLMCall, Request, Samples

T0 = 1_000.0
ROOT = "inv_root"
TOKEN = "rrh-1"
OUTAGE = FaultRecord("llm_5xx", "llm", T0, T0 + 6.0, {"times": None, "rule_id": "r1"})


def failed_call(id: int, at: float, token: str = TOKEN) -> LLMCall:
    return LLMCall(
        id=id, arrived_at=at, finished_at=at + 0.01, released_at=None, disconnected_at=None, held=False, token=token,
        fingerprint="f", model="m", rule_index=0, status=503, outcome="error", stream=False, request={}, response=None,
        usage=None, rule_id="r1",
    )


def outage_history(calls: int, attempts: int, root: Invocation | None = None, fault: FaultRecord = OUTAGE,
                   gap: float = 0.1) -> History:
    """``calls`` failed calls ``gap`` apart from ``gap`` into the outage, over ``attempts``."""
    return History(
        started_at=T0, requests=[Request(TOKEN, "q", ROOT, "key-1", T0)], faults=[fault],
        llm_calls=[failed_call(i, T0 + gap * i) for i in range(1, calls + 1)],
        invocations=[root or Invocation(ROOT, "completed", "Router/ask", completed_at=T0 + 7.0, completion_result="success")],
        samples=Samples(max_retry_count={ROOT: attempts}), ended_at=T0 + 8.0,
    )


STORM = CallsPerAttempt(at_most=10)
HIDDEN = CallsPerAttempt(at_most=1, severity="advisory")


def test_three_calls_per_attempt_are_no_storm_but_an_advisory_of_hidden_retries() -> None:
    h = outage_history(calls=12, attempts=4)
    storm, hidden = STORM.evaluate(h, []), HIDDEN.evaluate(h, [])
    assert (storm.ok, storm.severity, storm.exercised) == (True, "finding", True)
    assert (hidden.ok, hidden.severity, hidden.failed) == (False, "advisory", False)
    assert "about 3 LLM call(s) per Restate attempt (12 calls over 4 attempt(s)" in hidden.message
    assert "100 ms apart" in hidden.message
    assert "about 210 calls for one step" in hidden.message  # 70 attempts of production's policy, 3 calls each
    assert "max_retries=0" in hidden.advice


def test_250_calls_in_one_attempt_are_a_retry_storm_finding() -> None:
    result = STORM.evaluate(outage_history(calls=250, attempts=1, gap=0.02), [])
    assert (result.ok, result.failed, result.bug_class) == (False, True, "retry_storm")
    assert "about 250 LLM call(s) per Restate attempt (250 calls over 1 attempt(s)" in result.message
    assert "20 ms apart" in result.message
    assert "70 attempts over 1 h 3 min) that is about 17500 calls for one step" in result.message


def test_one_call_per_attempt_satisfies_even_the_advisory() -> None:
    assert HIDDEN.evaluate(outage_history(calls=5, attempts=5), []).ok


def test_a_limited_llm_error_is_not_an_outage() -> None:
    limited = FaultRecord("llm_5xx", "llm", T0, T0 + 6.0, {"times": 3, "rule_id": "r1"})
    h = outage_history(calls=3, attempts=3, fault=limited)
    for check in (STORM, RetriesBounded(severity="advisory"), TerminalWithin(seconds=30)):
        result = check.evaluate(h, [])
        assert (result.ok, result.exercised) == (True, False), check


def test_calls_of_another_request_are_not_counted() -> None:
    h = outage_history(calls=0, attempts=1)
    h.llm_calls.append(failed_call(1, T0 + 1.0, token="rrh-9"))
    result = STORM.evaluate(h, [])
    assert (result.ok, result.exercised) == (True, False)


def test_a_terminal_failure_within_the_outage_bounds_the_retries() -> None:
    root = Invocation(ROOT, "completed", "Router/ask", completed_at=T0 + 3.5, completion_result="failure")
    result = RetriesBounded(severity="advisory").evaluate(outage_history(calls=4, attempts=4, root=root), [])
    assert (result.ok, result.exercised) == (True, True)
    assert result.message == "failed terminally 3.5 s into the outage, after 4 attempt(s)"


def test_retrying_until_the_llm_is_back_is_an_advisory_priced_in_production_attempts() -> None:
    result = RetriesBounded(severity="advisory").evaluate(outage_history(calls=12, attempts=4), [])
    assert (result.ok, result.failed, result.severity) == (False, False, "advisory")
    assert "no terminal outcome during the 6 s outage" in result.message
    assert "70 attempts over 1 h 3 min (about 210 LLM calls at 3 per attempt)" in result.message
    assert "pauses the invocation" in result.message
    assert "RunOptions(max_attempts=6" in result.advice


def test_a_terminal_failure_after_the_outage_ended_does_not_bound_the_retries() -> None:
    root = Invocation(ROOT, "completed", "Router/ask", completed_at=T0 + 7.0, completion_result="failure")
    assert not RetriesBounded(severity="advisory").evaluate(outage_history(calls=4, attempts=4, root=root), []).ok


@pytest.mark.parametrize(("completed_at", "ok"), [(T0 + 29.0, True), (T0 + 31.0, False)])
def test_terminal_within_holds_only_for_a_failure_that_soon(completed_at: float, ok: bool) -> None:
    fault = FaultRecord("llm_5xx", "llm", T0, T0 + 35.0, {"times": None})
    root = Invocation(ROOT, "completed", "Router/ask", completed_at=completed_at, completion_result="failure")
    result = TerminalWithin(seconds=30).evaluate(outage_history(calls=4, attempts=4, root=root, fault=fault), [])
    assert (result.ok, result.bug_class, result.severity) == (ok, "retry_storm", "finding")
    assert result.message == ("every request ended within 30 s" if ok else f"{ROOT} ended after 31 s")


def test_terminal_within_fails_a_request_still_running() -> None:
    root = Invocation(ROOT, "backing-off", "Router/ask")
    result = TerminalWithin(seconds=30).evaluate(outage_history(calls=4, attempts=4, root=root), [])
    assert not result.ok
    assert result.message == f"{ROOT} is backing-off"


def test_terminal_within_is_not_satisfied_by_a_success_while_the_llm_is_down() -> None:
    root = Invocation(ROOT, "completed", "Router/ask", completed_at=T0 + 2.0, completion_result="success")
    assert not TerminalWithin(seconds=30).evaluate(outage_history(calls=1, attempts=1, root=root), []).ok


def test_the_recorded_llm_down_run_made_about_one_call_per_attempt_and_failed_terminally() -> None:
    from tests.unit import histories as H

    h = H.load(H.LLM_DOWN)
    per_attempt = H.evaluate(HIDDEN, h)
    assert per_attempt.ok
    assert per_attempt.message.startswith("about 1 LLM call(s) per Restate attempt (6 calls over 5 attempt(s)")
    assert H.evaluate(RetriesBounded(severity="advisory"), h).message.startswith("failed terminally 3.8 s into the outage")

"""Liveness judged after healing: an invocation still open once every fault healed is stuck,
and what it waits on is named (a deadlock on its own key, a durable promise); a hung LLM
call's advisory says what ended it and what production's timeouts would mean."""

from __future__ import annotations

import pytest

from harness.checker.liveness import HangEnded, RecoversAfterHealing, waits_on
from harness.history import FaultRecord, History, Invocation, JournalEntry, LLMCall, Request, Samples
from harness.restate_settings import FAST, PRODUCTION
from tests.unit import histories as H

T0 = 1_000.0
ROOT = "inv_root"


def history(*invocations: Invocation, faults: list[FaultRecord] | None = None, journal: list[JournalEntry] | None = None,
            ended_at: float | None = T0 + 40.0, **kw: object) -> History:
    return History(
        started_at=T0, requests=[Request("rrh-1", "q", ROOT, "key-1", T0)], invocations=list(invocations),
        faults=[FaultRecord("kill", "agent", T0 + 1.0, T0 + 2.0)] if faults is None else faults,
        journal=journal or [], ended_at=ended_at, **kw,  # type: ignore[arg-type]
    )


def completed(id: str = ROOT, at: float = T0 + 5.0, target: str = "Router/ask", **kw: object) -> Invocation:
    return Invocation(id, "completed", target, completed_at=at, completion_result="success", **kw)  # type: ignore[arg-type]


def command(index: int, kind: str, completion_id: int, invocation: str = ROOT, **body: object) -> JournalEntry:
    return JournalEntry(invocation, index, f"Command: {kind}", "", T0 + 1.0,
                        {"Command": {kind: {"completion_id": completion_id, **body}}})


def check(history: History, bound_s: float = 30.0):  # type: ignore[no-untyped-def]
    return RecoversAfterHealing(bound_s=bound_s).evaluate(history, [])


# --- RecoversAfterHealing ----------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in H.names() if H.recorded(n)["invocations"]["stuck"] == 0])
def test_every_recorded_run_that_finished_recovers_after_healing(name: str) -> None:
    result = H.evaluate(RecoversAfterHealing(), H.load(name))
    assert (result.ok, result.exercised, result.severity, result.bug_class) == (True, True, "finding", "stuck_invocation")
    assert "every invocation reached an outcome" in result.message


def test_recovery_is_measured_from_the_last_fault_healing() -> None:
    result = check(history(completed(at=T0 + 5.0)))
    assert result.ok
    assert result.message == "every invocation reached an outcome, 3.0 s after the last fault healed"


def test_a_request_still_open_after_healing_is_a_finding_naming_it_its_status_and_the_seconds() -> None:
    inv = Invocation(ROOT, "backing-off", "Router/ask", last_failure="boom: the model is overloaded")
    result = check(history(inv), bound_s=16.0)
    assert not result.ok and result.failed
    assert result.message.startswith(f"{ROOT} (Router/ask) is still backing-off 38 s after every fault healed (bound 16 s)")
    assert "last failure boom: the model is overloaded" in result.message


def test_a_virtual_object_calling_its_own_key_is_named_a_deadlock() -> None:
    caller = Invocation(ROOT, "suspended", "Cart/alice/checkout")
    callee = Invocation("inv_callee", "inboxed", "Cart/alice/total", invoked_by_id=ROOT)
    result = check(history(caller, callee))
    assert result.failed
    assert f"{ROOT} (Cart/alice/checkout) is still suspended" in result.message
    assert "a call to Cart/alice/total, its own key" in result.message
    assert "deadlock" in result.message


def test_a_pending_durable_promise_is_named_by_its_key() -> None:
    inv = Invocation(ROOT, "suspended", "Approval/run")
    result = check(history(inv, journal=[command(1, "GetPromise", 1, key="approved")]))
    assert result.failed
    assert "the durable promise 'approved'" in result.message
    assert "'Command: GetPromise' (index 1)" in result.message


def test_liveness_is_not_judged_when_a_fault_lasted_to_the_end_of_the_run() -> None:
    faults = [FaultRecord("kill", "agent", T0 + 1.0, T0 + 2.0), FaultRecord("llm_5xx", "llm", T0 + 1.0, None)]
    result = check(history(Invocation(ROOT, "backing-off", "Router/ask"), faults=faults))
    assert (result.ok, result.exercised) == (True, False)
    assert not result.failed


def test_a_request_open_for_less_than_its_bound_after_healing_is_not_yet_stuck() -> None:
    inv = Invocation(ROOT, "backing-off", "Router/ask")
    result = check(history(inv, ended_at=T0 + 3.0), bound_s=16.0)
    assert not result.failed


# --- waits_on ------------------------------------------------------------------------------------


def test_a_callee_of_another_key_is_not_a_deadlock() -> None:
    caller = Invocation(ROOT, "suspended", "Cart/alice/checkout")
    callee = Invocation("inv_callee", "running", "Cart/bob/total", invoked_by_id=ROOT)
    assert waits_on(history(caller, callee), ROOT) is None


def test_a_suspended_invocation_with_nothing_pending_waits_on_an_awakeable() -> None:
    h = history(Invocation(ROOT, "suspended", "Approval/run"))
    assert (waits_on(h, ROOT) or "").startswith("an awakeable or signal")


def test_a_pending_step_or_a_completed_invocation_waits_on_nothing_outside() -> None:
    h = history(Invocation(ROOT, "suspended", "Approval/run"), journal=[command(1, "Run", 1)])
    assert waits_on(h, ROOT) is None
    assert waits_on(history(completed()), ROOT) is None
    assert waits_on(history(completed()), "inv_unknown") is None


def test_an_answered_promise_is_not_waited_on() -> None:
    answer = JournalEntry(ROOT, 2, "Notification: GetPromise", "", T0 + 2.0, {"Notification": {"id": {"CompletionId": 1}}})
    h = history(Invocation(ROOT, "suspended", "Approval/run"), journal=[command(1, "GetPromise", 1, key="k"), answer])
    assert "promise" not in (waits_on(h, ROOT) or "")


# --- HangEnded -------------------------------------------------------------------------------------


def hung_call(rule_id: str = "r7", arrived: float = T0 + 0.5, disconnected: float | None = T0 + 1.5) -> LLMCall:
    return LLMCall(
        id=1, arrived_at=arrived, finished_at=None, released_at=None, disconnected_at=disconnected, held=False,
        token="rrh-1", fingerprint="f", model="m", rule_index=0, status=None, outcome="disconnected", stream=False,
        request={}, response=None, usage=None, rule_id=rule_id,
    )


def hang_history(call: LLMCall, failures: dict[str, list[str]] | None = None, restate=FAST) -> History:  # type: ignore[no-untyped-def]
    fault = FaultRecord("llm_hang", "llm", T0, T0 + 0.5, {"times": 1, "rule_id": "r7"})
    return history(completed(), faults=[fault], llm_calls=[call], samples=Samples(failures_seen=failures or {}),
                   restate=restate)


def test_no_hang_fault_leaves_hang_ended_unexercised() -> None:
    result = HangEnded(severity="advisory").evaluate(history(completed(), llm_calls=[hung_call()]), [])
    assert (result.ok, result.exercised) == (True, False)


def test_a_call_answered_by_another_rule_is_not_the_hung_one() -> None:
    result = HangEnded(severity="advisory").evaluate(hang_history(hung_call(rule_id="r3")), [])
    assert (result.ok, result.exercised) == (True, False)


def test_a_hang_ended_by_the_clients_timeout_before_restates_bound_holds() -> None:
    result = HangEnded(severity="advisory").evaluate(hang_history(hung_call(disconnected=T0 + 1.5)), [])
    assert (result.ok, result.exercised) == (True, True)
    assert "client timeout ended it after 1 s" in result.message


def test_a_hang_ended_by_restates_abort_is_an_advisory_with_productions_11_minutes() -> None:
    failures = {ROOT: ["RT0001: [RT0001] The invocation response stream was aborted due to the abort timeout firing"]}
    result = HangEnded(severity="advisory").evaluate(hang_history(hung_call(disconnected=T0 + 2.5), failures), [])
    assert (result.ok, result.exercised, result.severity, result.failed) == (False, True, "advisory", False)
    assert "LLM call #1 hung and held the request 2 s, until Restate aborted the attempt" in result.message
    assert "inactivity 2 s + abort 2 s in this run" in result.message
    assert "the same hang holds a request up to 11 min" in result.message
    assert "AsyncOpenAI(timeout=30, max_retries=0)" in result.advice


def test_a_hang_as_long_as_restates_bound_is_not_credited_to_the_client_even_without_an_abort_message() -> None:
    result = HangEnded(severity="advisory").evaluate(hang_history(hung_call(disconnected=T0 + 0.5 + FAST.hang_bound_s)), [])
    assert (result.ok, result.failed) == (False, False)
    assert "held the request 4 s" in result.message


def test_production_settings_recorded_in_the_history_bound_the_hang() -> None:
    # 5 s is past the fast bound (4 s) but far inside production's 11 min: the client ended it.
    result = HangEnded(severity="advisory").evaluate(hang_history(hung_call(disconnected=T0 + 5.5), restate=PRODUCTION), [])
    assert result.ok
    assert "client timeout ended it after 5 s" in result.message

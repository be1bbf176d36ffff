"""Every check of harness/checker/checks.py on histories recorded from real runs
(tests/fixtures/histories): it passes on the good ones, fails with the expected message on the
mutants, and reacts to small crafted edits of the real data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.checker.checks import (
    AllCompleted,
    CallTree,
    FailedTerminally,
    NoBadAnswerCommitted,
    NoDuplicateLLMCalls,
    NoDuplicateSideEffects,
    NoJournalMismatch,
    OneInvocationPerRequest,
    RetriesPlausible,
    SameAnswerAsBaseline,
    SlowedDown,
    StepsOnce,
    Wasted,
    WastedExplainedByFaults,
    same_answer,
)
from harness.history import History
from scenarios.llm_scripts import BILLING_ANSWER
from tests.unit import histories as H
from tests.unit.histories import entry_of, evaluate, load, root, variant

GOOD = [H.KILL_ROUTER, H.STREAM_CUT, H.SERVER_RESTART, H.REMOTE_BASELINE, H.KILL_REMOTE, H.SOAK]
REMOTE = [H.REMOTE_BASELINE, H.KILL_REMOTE]
ANSWER = "I have refunded the duplicate charge; it will show within 5 days."


def test_the_scripted_answer_is_the_one_the_fixtures_recorded() -> None:
    assert BILLING_ANSWER == ANSWER


# --- every scenario's checks, on its own recorded run ---------------------------------------


@pytest.mark.parametrize("name", H.names())
def test_each_fixture_gives_the_findings_its_run_reported(name: str) -> None:
    history = load(name)
    findings = [evaluate(check, history) for check in H.scenario(name).checks]
    assert [(f.check, f.ok, f.message) for f in findings] == [
        (f["check"], f["ok"], f["message"]) for f in H.recorded(name)["findings"]
    ]


# --- AllCompleted --------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOOD)
def test_all_completed_passes_on_every_good_run(name: str) -> None:
    finding = evaluate(AllCompleted(ANSWER), load(name))
    n = len(load(name).requests)
    assert finding.ok and finding.message == f"{n}/{n} completed as expected"


def test_all_completed_names_a_terminal_failure() -> None:
    history = load(H.LLM_DOWN)
    finding = evaluate(AllCompleted(ANSWER), history)
    assert not finding.ok
    assert finding.message == (
        f"0/1 completed as expected: {root(H.raw(H.LLM_DOWN))} failed: "
        "[500] InternalServerError('Error code: 503 - the model is overloaded')"
    )


def test_all_completed_compares_the_answer() -> None:
    finding = evaluate(AllCompleted("something else"), load(H.KILL_ROUTER))
    assert not finding.ok
    assert finding.message.endswith(f"answered {ANSWER!r}, expected 'something else'")
    assert evaluate(AllCompleted(None), load(H.KILL_ROUTER)).ok  # no answer given: any


def test_all_completed_names_an_invocation_still_running_or_missing() -> None:
    data = H.raw(H.KILL_ROUTER)
    inv = root(data)

    def running(d: dict[str, Any]) -> None:
        d["invocations"][0].update(status="running", completed_at=None, completion_result=None)

    assert evaluate(AllCompleted(ANSWER), variant(H.KILL_ROUTER, running)).message == (
        f"0/1 completed as expected: {inv} is running"
    )
    missing = variant(H.KILL_ROUTER, lambda d: d.update(invocations=[]))
    assert evaluate(AllCompleted(ANSWER), missing).message == f"0/1 completed as expected: {inv} is missing"


def test_all_completed_fails_with_no_request() -> None:
    finding = evaluate(AllCompleted(ANSWER), variant(H.KILL_ROUTER, lambda d: d.update(requests=[])))
    assert (finding.ok, finding.message) == (False, "0/0 completed as expected")


def test_all_completed_with_a_real_provider_asks_for_an_answer_not_its_words() -> None:
    def forwarded(d: dict[str, Any]) -> None:
        for call in d["llm_calls"]:
            call["forwarded"] = True

    assert evaluate(AllCompleted("other words"), variant(H.KILL_ROUTER, forwarded)).ok

    def silent(d: dict[str, Any]) -> None:
        forwarded(d)
        d["outputs"][root(d)] = ""

    finding = evaluate(AllCompleted("other words"), variant(H.KILL_ROUTER, silent))
    assert not finding.ok and finding.message.endswith(f"{root(H.raw(H.KILL_ROUTER))} answered nothing")


# --- FailedTerminally ----------------------------------------------------------------------


def test_failed_terminally_passes_on_the_llm_down_run_and_matches_the_message() -> None:
    history = load(H.LLM_DOWN)
    assert evaluate(FailedTerminally(), history).message == "all failed terminally"
    assert evaluate(FailedTerminally("the model is overloaded"), history).ok
    finding = evaluate(FailedTerminally("rate limited"), history)
    assert not finding.ok
    assert finding.message == (
        f"{root(H.raw(H.LLM_DOWN))} failed with \"[500] InternalServerError('Error code: 503 - the model is overloaded')\""
    )


def test_failed_terminally_fails_on_a_run_that_succeeded() -> None:
    finding = evaluate(FailedTerminally(), load(H.KILL_ROUTER))
    assert (finding.ok, finding.message) == (False, f"{root(H.raw(H.KILL_ROUTER))} is completed/success")


# --- NoDuplicateLLMCalls -------------------------------------------------------------------


@pytest.mark.parametrize(("name", "calls"), [(H.KILL_ROUTER, 3), (H.STREAM_CUT, 3), (H.SERVER_RESTART, 3),
                                             (H.REMOTE_BASELINE, 2), (H.KILL_REMOTE, 3), (H.LLM_DOWN, 6), (H.SOAK, 205)])
def test_no_duplicate_llm_calls_on_good_runs(name: str, calls: int) -> None:
    finding = evaluate(NoDuplicateLLMCalls(), load(name))
    assert (finding.ok, finding.message) == (True, f"{calls} call(s), 0 duplicate(s)")


def test_the_unjournaled_routing_mutant_is_caught_repeating_the_routing_call() -> None:
    finding = evaluate(NoDuplicateLLMCalls(), load(H.MUTANT_ROUTING))
    assert not finding.ok
    assert finding.message == (
        "4 call(s), 1 duplicate(s); call #3: call #1 had already answered, and the journal recorded "
        "'Command: Run ask BillingAgent' (index 1) after that answer, before this call"
    )


def test_a_retried_llm_call_made_after_its_step_result_is_a_duplicate() -> None:
    # The specialist's call made again 1 s after its result was journaled (a replay bug).
    def again(d: dict[str, Any]) -> None:
        committed = dict(d["llm_calls"][2])
        done = entry_of(d, root(d), 4)["appended_at"]
        committed.update(id=4, arrived_at=done + 1.0, finished_at=done + 1.01)
        d["llm_calls"].append(committed)

    finding = evaluate(NoDuplicateLLMCalls(), variant(H.KILL_ROUTER, again))
    assert not finding.ok
    assert finding.message == (
        "4 call(s), 1 duplicate(s); call #4: step 'ask BillingAgent' (journal index 3) had already "
        "journaled call #3's answer before this call"
    )


# --- Wasted --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "wasted"), [(H.KILL_ROUTER, 1), (H.STREAM_CUT, 1), (H.SERVER_RESTART, 1),
                                              (H.REMOTE_BASELINE, 0), (H.LLM_DOWN, 6), (H.SOAK, 5)])
def test_wasted_counts_the_real_runs(name: str, wasted: int) -> None:
    assert evaluate(Wasted(exactly=wasted), load(name)).message == f"{wasted} wasted, expected exactly {wasted}"
    finding = evaluate(Wasted(exactly=wasted + 1), load(name))
    assert (finding.ok, finding.message) == (False, f"{wasted} wasted, expected exactly {wasted + 1}")


def test_wasted_bounds() -> None:
    history = load(H.KILL_ROUTER)
    assert evaluate(Wasted(at_most=1), history).message == "1 wasted, expected 0..1"
    finding = evaluate(Wasted(at_least=2), history)
    assert (finding.ok, finding.message) == (False, "1 wasted, expected 2..∞")
    assert not evaluate(Wasted(at_most=0), history).ok


# --- WastedExplainedByFaults ---------------------------------------------------------------


@pytest.mark.parametrize("name", [*GOOD, H.LLM_DOWN, H.MUTANT_ROUTING, H.MUTANT_REFUND])
def test_every_wasted_call_of_the_real_runs_is_explained(name: str) -> None:
    finding = evaluate(WastedExplainedByFaults(), load(name))
    assert (finding.ok, finding.message) == (True, "all explained")


def _no_fault(d: dict[str, Any]) -> None:
    d["faults"], d["planned_faults"] = [], 0


def _no_failed_attempt(d: dict[str, Any]) -> None:
    d["samples"]["max_retry_count"] = {i: min(n, 1) for i, n in d["samples"]["max_retry_count"].items()}


def test_a_wasted_call_outside_any_fault_window_and_with_no_retry_is_unexplained() -> None:
    history = variant(H.KILL_ROUTER, lambda d: (_no_fault(d), _no_failed_attempt(d)))
    finding = evaluate(WastedExplainedByFaults(), history)
    assert not finding.ok
    assert finding.message == "calls [2] were retried with no fault and no failed attempt"


def test_a_fault_that_began_after_the_retry_does_not_explain_the_wasted_call() -> None:
    def late(d: dict[str, Any]) -> None:
        _no_failed_attempt(d)
        retry = d["llm_calls"][2]["arrived_at"]
        d["faults"][0].update(applied_at=retry + 0.01, undone_at=retry + 0.2)

    finding = evaluate(WastedExplainedByFaults(), variant(H.KILL_ROUTER, late))
    assert (finding.ok, finding.message) == (False, "calls [2] were retried with no fault and no failed attempt")


def test_a_fault_that_hit_after_the_answer_but_before_the_retry_explains_it() -> None:
    # The kill came after call 2 had answered (its answer was never journaled).
    def after_answer(d: dict[str, Any]) -> None:
        _no_failed_attempt(d)
        answered = d["llm_calls"][1]["finished_at"]
        d["faults"][0].update(applied_at=answered + 0.01, undone_at=answered + 0.2)

    assert evaluate(WastedExplainedByFaults(), variant(H.KILL_ROUTER, after_answer)).ok


def test_a_failed_attempt_restate_recorded_explains_a_wasted_call_without_a_fault() -> None:
    assert evaluate(WastedExplainedByFaults(), variant(H.KILL_ROUTER, _no_fault)).ok  # retry_count 5 was sampled


def test_a_cut_call_explains_itself() -> None:
    history = variant(H.STREAM_CUT, lambda d: (_no_fault(d), _no_failed_attempt(d)))
    assert evaluate(WastedExplainedByFaults(), history).ok


def test_the_soaks_wasted_answers_need_their_fault_or_their_aborted_attempts() -> None:
    assert evaluate(WastedExplainedByFaults(), variant(H.SOAK, _no_fault)).ok  # attempts aborted: retry_count 4
    assert evaluate(WastedExplainedByFaults(), variant(H.SOAK, _no_failed_attempt)).ok  # inside reset_peer
    finding = evaluate(WastedExplainedByFaults(), variant(H.SOAK, lambda d: (_no_fault(d), _no_failed_attempt(d))))
    # The three 429s (calls 63, 65, 66) are outside failures: explained without a fault.
    assert finding.message == "calls [140, 141] were retried with no fault and no failed attempt"


# --- StepsOnce -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*GOOD, H.LLM_DOWN, H.MUTANT_ROUTING, H.MUTANT_REFUND])
def test_steps_once_on_the_real_runs(name: str) -> None:
    assert evaluate(StepsOnce(), load(name)).message == "ok"


def _drop_entry(d: dict[str, Any], invocation_id: str, index: int) -> None:
    d["journal"].remove(entry_of(d, invocation_id, index))


def test_a_step_without_its_notification_never_completed_and_is_named_by_journal_index() -> None:
    data = H.raw(H.KILL_ROUTER)
    history = variant(H.KILL_ROUTER, lambda d: _drop_entry(d, root(d), 4))  # Notification: Run of step 2
    finding = evaluate(StepsOnce(), history)
    assert not finding.ok
    assert finding.message == f"{root(data)}: step 'ask BillingAgent' (journal index 3) never completed"


def test_a_callees_step_without_its_notification_is_named_with_its_invocation() -> None:
    data = H.raw(H.KILL_REMOTE)
    callee = data["invocations"][1]["id"]
    finding = evaluate(StepsOnce(), variant(H.KILL_REMOTE, lambda d: _drop_entry(d, callee, 2)))
    assert finding.message == f"{callee}: step 'issue refund' (journal index 1) never completed"


def test_a_step_with_two_results_is_named() -> None:
    def twice(d: dict[str, Any]) -> None:
        second = json.loads(json.dumps(entry_of(d, root(d), 2)))
        second.update(index=6, appended_at=second["appended_at"] + 3.0)
        d["journal"].append(second)

    finding = evaluate(StepsOnce(), variant(H.KILL_ROUTER, twice))
    assert not finding.ok
    assert finding.message == f"{root(H.raw(H.KILL_ROUTER))}: step 'route' (journal index 1) has 2 results"


def test_two_steps_with_the_same_name_both_completed_pass() -> None:
    # Frameworks reuse step names ("call LLM"): steps are told apart by journal index.
    def same_name(d: dict[str, Any]) -> None:
        inv, output = root(d), entry_of(d, root(d), 5)
        at = output["appended_at"]
        d["journal"] += [
            {"invocation_id": inv, "index": 5, "entry_type": "Command: Run", "name": "ask BillingAgent", "appended_at": at,
             "detail": {"Command": {"Run": {"completion_id": 3, "name": "ask BillingAgent"}}}},
            {"invocation_id": inv, "index": 6, "entry_type": "Notification: Run", "name": "", "appended_at": at + 0.01,
             "detail": {"Notification": {"id": {"CompletionId": 3}, "result": "Success"}}},
        ]
        output.update(index=7, appended_at=at + 0.02)

    history = variant(H.KILL_ROUTER, same_name)
    assert [(s.name, s.index, s.completed) for s in history.steps] == [
        ("route", 1, True), ("ask BillingAgent", 3, True), ("ask BillingAgent", 5, True)
    ]
    assert evaluate(StepsOnce(), history).message == "ok"


def test_of_two_steps_with_the_same_name_the_unfinished_one_is_named() -> None:
    def same_name_unfinished(d: dict[str, Any]) -> None:
        inv, output = root(d), entry_of(d, root(d), 5)
        d["journal"].append(
            {"invocation_id": inv, "index": 5, "entry_type": "Command: Run", "name": "ask BillingAgent",
             "appended_at": output["appended_at"], "detail": {"Command": {"Run": {"completion_id": 3, "name": "ask BillingAgent"}}}}
        )
        output.update(index=6)

    finding = evaluate(StepsOnce(), variant(H.KILL_ROUTER, same_name_unfinished))
    assert finding.message == f"{root(H.raw(H.KILL_ROUTER))}: step 'ask BillingAgent' (journal index 5) never completed"


def test_steps_of_an_invocation_that_did_not_complete_are_not_judged() -> None:
    def unfinished(d: dict[str, Any]) -> None:
        _drop_entry(d, root(d), 4)
        d["invocations"][0].update(status="suspended", completed_at=None, completion_result=None)

    assert evaluate(StepsOnce(), variant(H.KILL_ROUTER, unfinished)).ok


# --- RetriesPlausible ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "retries"), [(H.KILL_ROUTER, 4), (H.SERVER_RESTART, 0), (H.REMOTE_BASELINE, 0),
                                               (H.KILL_REMOTE, 5), (H.MUTANT_ROUTING, 5), (H.SOAK, 3)])
def test_retries_are_read_from_the_highest_sampled_retry_count(name: str, retries: int) -> None:
    finding = evaluate(RetriesPlausible(at_least=0, at_most=20), load(name))
    assert (finding.ok, finding.message) == (True, f"{retries} retries, expected 0..20")


def test_retries_outside_the_bounds_fail() -> None:
    history = load(H.KILL_ROUTER)
    assert evaluate(RetriesPlausible(at_most=3), history).message == "4 retries, expected 0..3"
    assert not evaluate(RetriesPlausible(at_most=3), history).ok
    assert not evaluate(RetriesPlausible(at_least=1), load(H.REMOTE_BASELINE)).ok
    empty = variant(H.KILL_ROUTER, lambda d: d["samples"].update(max_retry_count={}))
    assert evaluate(RetriesPlausible(at_least=1), empty).message == "0 retries, expected 1..20"


# --- SlowedDown ----------------------------------------------------------------------------


def test_slowed_down_measures_from_time_zero_to_the_last_completion() -> None:
    history = load(H.KILL_ROUTER)
    assert evaluate(SlowedDown(2.0), history).message == "took 2.40s, expected ≥ 2s"
    finding = evaluate(SlowedDown(2.5), history)
    assert (finding.ok, finding.message) == (False, "took 2.40s, expected ≥ 2.5s")
    assert evaluate(SlowedDown(6.0), load(H.SOAK)).message == "took 6.23s, expected ≥ 6s"


def test_slowed_down_with_nothing_completed_took_nothing() -> None:
    def nothing_done(d: dict[str, Any]) -> None:
        for inv in d["invocations"]:
            inv["completed_at"] = None

    finding = evaluate(SlowedDown(0.5), variant(H.KILL_ROUTER, nothing_done))
    assert (finding.ok, finding.message) == (False, "took 0.00s, expected ≥ 0.5s")


# --- CallTree ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*REMOTE, H.MUTANT_REFUND])
def test_the_call_tree_holds_on_the_remote_runs(name: str) -> None:
    finding = evaluate(CallTree(), load(name))
    assert (finding.ok, finding.message) == (True, "one callee per call, all completed, answers passed up")


def test_a_local_router_called_no_agent() -> None:
    finding = evaluate(CallTree(), load(H.KILL_ROUTER))
    assert (finding.ok, finding.message) == (False, f"{root(H.raw(H.KILL_ROUTER))} called no agent")


def test_a_callee_answer_json_encoded_twice_is_the_same_answer() -> None:
    # The parent returned its callee's output re-encoded: a JSON string inside a JSON string.
    history = variant(H.KILL_REMOTE, lambda d: d["outputs"].update({root(d): json.dumps(json.dumps(ANSWER))}))
    assert history.outputs[root(H.raw(H.KILL_REMOTE))] != ANSWER
    assert evaluate(CallTree(), history).ok


def test_a_callee_object_answer_returned_as_json_text_is_the_same_answer() -> None:
    def as_object(d: dict[str, Any]) -> None:
        callee = d["invocations"][1]["id"]
        d["outputs"][callee] = {"answer": ANSWER, "refund": 1}
        d["outputs"][root(d)] = json.dumps({"refund": 1, "answer": ANSWER})

    assert evaluate(CallTree(), variant(H.KILL_REMOTE, as_object)).ok


def test_a_callee_number_answer_returned_as_json_text_is_the_same_answer() -> None:
    def number(d: dict[str, Any]) -> None:
        d["outputs"][d["invocations"][1]["id"]] = 42
        d["outputs"][root(d)] = "42"

    assert evaluate(CallTree(), variant(H.KILL_REMOTE, number)).ok




def test_same_answer_on_strings_and_objects() -> None:
    assert same_answer("a", json.dumps("a")) and same_answer("a", json.dumps(json.dumps("a")))
    assert same_answer({"x": [1]}, json.dumps({"x": [1]}))
    assert not same_answer("a", "b") and not same_answer("a", json.dumps("b"))
    assert same_answer("not json {", "not json {")


def test_a_parent_that_answered_something_else_is_named() -> None:
    data = H.raw(H.KILL_REMOTE)
    history = variant(H.KILL_REMOTE, lambda d: d["outputs"].update({root(d): "I cannot help."}))
    finding = evaluate(CallTree(), history)
    assert not finding.ok
    assert finding.message == f"{root(data)} answered 'I cannot help.', its callee {ANSWER!r}"


def test_a_callee_invocation_doubled_or_lost_is_counted_against_the_call_entries() -> None:
    data = H.raw(H.KILL_REMOTE)

    def doubled(d: dict[str, Any]) -> None:
        d["invocations"].append(dict(d["invocations"][1], id="inv_second_callee"))
        d["outputs"]["inv_second_callee"] = ANSWER

    assert evaluate(CallTree(), variant(H.KILL_REMOTE, doubled)).message == (
        f"{root(data)} has 2 callee invocations for 1 Call entries"
    )
    lost = variant(H.KILL_REMOTE, lambda d: d["invocations"].pop(1))
    assert evaluate(CallTree(), lost).message == f"{root(data)} has 0 callee invocations for 1 Call entries"


def test_a_callee_that_did_not_complete_is_named() -> None:
    data = H.raw(H.KILL_REMOTE)
    callee = data["invocations"][1]["id"]

    def stuck(d: dict[str, Any]) -> None:
        d["invocations"][1].update(status="backing-off", completed_at=None, completion_result=None)

    finding = evaluate(CallTree(), variant(H.KILL_REMOTE, stuck))
    assert (finding.ok, finding.message) == (False, f"callee {callee} (BillingAgent/run) is backing-off/None")


# --- NoDuplicateSideEffects ----------------------------------------------------------------


@pytest.mark.parametrize("name", REMOTE)
def test_one_refund_on_the_reference_remote_runs(name: str) -> None:
    finding = evaluate(NoDuplicateSideEffects(), load(name))
    assert (finding.ok, finding.message) == (True, "1 call(s), 0 duplicate(s)")


def test_the_refund_outside_run_mutant_is_caught_refunding_twice() -> None:
    finding = evaluate(NoDuplicateSideEffects(), load(H.MUTANT_REFUND))
    assert not finding.ok
    assert finding.message == (
        "2 call(s), 1 duplicate(s); call #2 /refunds on refunds: call #1 had already answered, and the journal recorded "
        "'Command: Run ask BillingAgent' (index 1) after that answer, before this call"
    )


def test_no_side_effect_at_all_cannot_be_judged() -> None:
    finding = evaluate(NoDuplicateSideEffects(), load(H.KILL_ROUTER))
    assert (finding.ok, finding.message) == (False, "no side effect was made: nothing to judge")


def test_a_journaled_refund_made_again_after_its_step_result_is_a_duplicate() -> None:
    def again(d: dict[str, Any]) -> None:
        callee = d["invocations"][1]["id"]
        done = entry_of(d, callee, 2)["appended_at"]
        d["stub_calls"].append(dict(d["stub_calls"][0], id=2, arrived_at=done + 1.0, finished_at=done + 1.001))

    finding = evaluate(NoDuplicateSideEffects(), variant(H.KILL_REMOTE, again))
    assert not finding.ok
    assert finding.message == (
        "2 call(s), 1 duplicate(s); call #2 /refunds on refunds: step 'issue refund' (journal index 1) had already journaled "
        "call #1's answer before this call"
    )


# --- NoJournalMismatch ---------------------------------------------------------------------


@pytest.mark.parametrize("name", H.names())
def test_no_journal_mismatch_in_the_recorded_runs(name: str) -> None:
    finding = evaluate(NoJournalMismatch(), load(name))
    assert (finding.ok, finding.message) == (True, "deterministic replay")


def test_a_journal_mismatch_seen_while_running_fails_and_is_quoted() -> None:
    failure = "RT0016: Journal mismatch: replayed journal entries did not correspond to the user code"

    def mismatch(d: dict[str, Any]) -> None:
        d["samples"]["failures_seen"].setdefault(root(d), []).append(failure)

    finding = evaluate(NoJournalMismatch(), variant(H.KILL_ROUTER, mismatch))
    assert not finding.ok
    assert finding.message == f"{root(H.raw(H.KILL_ROUTER))}: {failure}"


# --- OneInvocationPerRequest ---------------------------------------------------------------


@pytest.mark.parametrize("name", H.names())
def test_one_invocation_per_idempotency_key_in_the_recorded_runs(name: str) -> None:
    finding = evaluate(OneInvocationPerRequest(), load(name))
    assert (finding.ok, finding.message) == (True, "each idempotency key made one invocation")


def test_a_key_that_made_two_invocations_or_none_is_named() -> None:
    key = H.raw(H.KILL_ROUTER)["requests"][0]["idempotency_key"]
    doubled = variant(H.KILL_ROUTER, lambda d: d["keyed_invocations"].append(dict(d["keyed_invocations"][0], id="inv_x")))
    assert evaluate(OneInvocationPerRequest(), doubled).message == f"invocations per key: {{{key!r}: 2}}"
    none = variant(H.KILL_ROUTER, lambda d: d.update(keyed_invocations=[]))
    finding = evaluate(OneInvocationPerRequest(), none)
    assert (finding.ok, finding.message) == (False, f"invocations per key: {{{key!r}: 0}}")


def test_one_soak_request_resent_into_a_second_invocation_is_the_only_one_named() -> None:
    data = H.raw(H.SOAK)
    key = data["requests"][37]["idempotency_key"]
    row = next(r for r in data["keyed_invocations"] if r["idempotency_key"] == key)
    finding = evaluate(OneInvocationPerRequest(), variant(H.SOAK, lambda d: d["keyed_invocations"].append(dict(row, id="inv_y"))))
    assert finding.message == f"invocations per key: {{{key!r}: 2}}"


def test_same_answer_decodes_json_scalars_like_strings_and_objects() -> None:
    assert same_answer(True, "true") and same_answer(None, "null") and same_answer(4.5, "4.5")


# --- committing a bad answer (value faults) ------------------------------------------------------


def _healed() -> History:
    """A twin that parsed inside its step, under a schema violation on call 1: it asked again and
    committed the baseline's answer (recorded by validate; tests/fixtures/validation)."""
    path = Path(__file__).resolve().parent.parent / "fixtures" / "validation" / "parse-inside-step-sdk-schema-violation.json"
    return History.from_json(json.loads(path.read_text()))


def _answered(history: History, output: object) -> History:
    [inv] = history.outputs
    history.outputs[inv] = output
    return history


BASELINE_CLAIM = {"customer": "customer {token}", "category": "billing", "amount": 1.0, "summary": "summary {token}"}


def test_a_bad_answer_healed_to_the_baseline_answer_is_not_committed() -> None:
    history = _healed()
    result = H.evaluate(NoBadAnswerCommitted(baseline=BASELINE_CLAIM), history)
    assert result.ok and result.exercised, result.message


def test_an_empty_answer_committed_after_a_bad_one_is_degraded() -> None:
    result = H.evaluate(NoBadAnswerCommitted(baseline=BASELINE_CLAIM), _answered(_healed(), ""))
    assert not result.ok and result.bug_class == "degraded_answer" and "empty answer" in result.message
    # Its fix is about checking the answer inside the step, not about a caught exception.
    assert "raise there" in result.advice and "invalid_tool_calls" in result.advice


def test_committing_the_bad_answer_itself_is_degraded() -> None:
    history = _healed()
    bad = next(c for c in history.llm_calls if c.flaw)
    text = bad.response["choices"][0]["message"]["content"]
    result = H.evaluate(NoBadAnswerCommitted(baseline=BASELINE_CLAIM), _answered(history, {"raw": text}))
    assert not result.ok and f"call #{bad.id}'s bad answer (schema_violation)" in result.message


def test_another_answer_that_is_not_the_bad_one_is_left_to_the_advisory() -> None:
    history = _answered(_healed(), {"customer": "someone else", "category": "travel"})
    assert H.evaluate(NoBadAnswerCommitted(baseline=BASELINE_CLAIM), history).advice == ""
    assert H.evaluate(NoBadAnswerCommitted(baseline=BASELINE_CLAIM), history).ok
    assert not H.evaluate(SameAnswerAsBaseline(baseline=BASELINE_CLAIM), history).ok


def test_with_no_bad_answer_given_there_is_nothing_to_judge() -> None:
    result = H.evaluate(NoBadAnswerCommitted(baseline="x"), H.load(H.KILL_ROUTER))
    assert result.ok and not result.exercised

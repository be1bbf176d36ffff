"""The call classifier on hand-built ledgers and journals (the rules that decide whether
a repeated LLM call was a legitimate retry or a duplicate), then on histories recorded from
real runs: the counts each run reported, and the label and reason of each call."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.checker.classify import (
    classify,
    classify_history,
    llm_calls,
    side_effects,
    tally,
)
from harness.fake_llm import LLMCall
from harness.history import JournalEntry
from tests.unit import histories as H

INV = "inv_1"
TOKEN = "rrh-000000000001"


def call(id: int, fingerprint: str, arrived: float, finished: float | None, outcome: str = "ok") -> LLMCall:
    return LLMCall(
        id=id, arrived_at=arrived, finished_at=finished, released_at=None, disconnected_at=None, held=False,
        token=TOKEN, fingerprint=fingerprint, model="m", rule_index=None, status=200 if outcome == "ok" else 500,
        outcome=outcome, stream=False, request={}, response=None, usage=None,
    )


def entry(index: int, kind: str, at: float, name: str = "", step: int | None = None) -> JournalEntry:
    """A journal entry; ``step`` is the Run's completion id (on its command and its notification)."""
    if kind == "Command: Run":
        detail = {"Command": {"Run": {"completion_id": step, "name": name}}}
    elif kind == "Notification: Run":
        detail = {"Notification": {"id": {"CompletionId": step}, "result": "Success"}}
    else:
        detail = {}
    return JournalEntry(INV, index, kind, name, at, detail)


def labels(calls: list[LLMCall], journal: list[JournalEntry]) -> dict[int, str]:
    return {c.call.id: c.label for c in classify(calls, {INV: journal}, {TOKEN: INV})}


def test_a_call_retried_after_a_kill_before_its_answer_is_wasted_not_duplicate() -> None:
    journal = [entry(0, "Command: Input", 0.0), entry(1, "Command: Run", 0.1, "route", 1),
               entry(2, "Notification: Run", 0.25, step=1), entry(3, "Command: Run", 0.26, "ask", 2),
               entry(4, "Notification: Run", 3.1, step=2), entry(5, "Command: Output", 3.2)]
    calls = [call(1, "route", 0.2, 0.24), call(2, "ask", 0.3, None), call(3, "ask", 3.0, 3.05)]
    assert labels(calls, journal) == {1: "committed", 2: "wasted", 3: "committed"}


def test_a_call_repeated_after_its_run_result_was_journaled_is_a_duplicate() -> None:
    journal = [entry(0, "Command: Input", 0.0), entry(1, "Command: Run", 0.1, "route", 1),
               entry(2, "Notification: Run", 0.25, step=1), entry(3, "Command: Output", 3.2)]
    calls = [call(1, "route", 0.2, 0.24), call(2, "route", 2.0, 2.1)]
    result = labels(calls, journal)
    assert result[2] == "duplicate"
    assert result[1] == "committed"


def test_a_request_asked_again_in_a_new_step_after_a_bad_answer_is_committed_twice() -> None:
    """An agent that rejects an answer after its step (the Agents SDK, Pydantic AI) runs again:
    the identical request, from a new step that journals its own answer. Such a re-ask
    (pydantic_ai_output_type under llm-refusal) was taken for a repeat of the first step's
    call when it came more than 50 ms after that step's result, and for a wasted one sooner."""
    journal = [entry(0, "Command: Input", 0.0), entry(1, "Command: Run", 0.1, "Model call", 1),
               entry(2, "Notification: Run", 0.25, step=1), entry(3, "Command: Run", 0.31, "Model call", 2),
               entry(4, "Notification: Run", 0.45, step=2), entry(5, "Command: Output", 0.5)]
    calls = [call(1, "ask", 0.2, 0.24), call(2, "ask", 0.32, 0.44)]
    assert labels(calls, journal) == {1: "committed", 2: "committed"}
    # A third attempt after both steps, in no step, still repeats journaled work.
    assert labels([*calls, call(3, "ask", 2.0, 2.1)], journal)[3] == "duplicate"


def test_a_call_outside_ctx_run_repeated_after_it_drove_progress_is_a_duplicate() -> None:
    # No Run entry of its own: the specialist step's command, appended after its answer, is the progress.
    journal = [entry(0, "Command: Input", 0.0), entry(1, "Command: Run", 0.3, "ask", 1),
               entry(2, "Notification: Run", 3.1, step=1), entry(3, "Command: Output", 3.2)]
    calls = [call(1, "route", 0.1, 0.2), call(2, "ask", 0.35, None), call(3, "route", 2.9, 2.95), call(4, "ask", 3.0, 3.05)]
    result = labels(calls, journal)
    assert result[3] == "duplicate"
    assert result[2] == "wasted"


def test_an_answer_that_reached_a_dead_process_is_wasted_when_nothing_was_journaled_after_it() -> None:
    journal = [entry(0, "Command: Input", 0.0), entry(1, "Command: Run", 0.1, "ask", 1),
               entry(2, "Notification: Run", 5.1, step=1), entry(3, "Command: Output", 5.2)]
    calls = [call(1, "ask", 0.2, 1.0), call(2, "ask", 5.0, 5.05)]
    assert labels(calls, journal) == {1: "wasted", 2: "committed"}


def test_failed_llm_answers_are_wasted_and_say_why() -> None:
    journal = [entry(0, "Command: Input", 0.0), entry(1, "Command: Run", 0.1, "ask", 1),
               entry(2, "Notification: Run", 1.1, step=1), entry(3, "Command: Output", 1.2)]
    calls = [call(1, "ask", 0.2, 0.21, outcome="error"), call(2, "ask", 1.0, 1.05)]
    classified = {c.call.id: c for c in classify(calls, {INV: journal}, {TOKEN: INV})}
    assert classified[1].label == "wasted"
    assert "error" in classified[1].reason
    assert classified[2].label == "committed"


def test_an_entry_in_the_same_millisecond_as_the_answer_counts_as_after_it() -> None:
    journal = [entry(0, "Command: Input", 0.0), entry(1, "Command: Run", 0.1, "route", 1),
               entry(2, "Notification: Run", 0.2, step=1), entry(3, "Command: Output", 3.0)]
    calls = [call(1, "route", 0.15, 0.2004), call(2, "route", 2.0, 2.1)]
    assert labels(calls, journal)[2] == "duplicate"


def test_a_retry_whose_own_result_is_stamped_just_before_its_arrival_is_not_a_duplicate() -> None:
    # Seen under load: the paused attempt's answer (call 1) was never journaled; the retry's
    # own result was journaled 1 ms before the fake LLM's stamp of the retry's arrival.
    journal = [entry(0, "Command: Input", 0.0), entry(1, "Command: Run", 0.1, "ask", 1),
               entry(2, "Notification: Run", 9.312, step=1), entry(3, "Command: Output", 9.315)]
    calls = [call(1, "ask", 0.148, 0.172), call(2, "ask", 9.313, 9.313)]
    assert labels(calls, journal) == {1: "wasted", 2: "committed"}


def test_repeats_of_a_step_whose_command_was_journaled_late_are_wasted_not_duplicates() -> None:
    # Seen in a soak: attempts aborted under load made the routing call (#1, #2) before any
    # of their commands was kept; a later attempt journaled "Command: Run route", called
    # again (#3), and only that answer was journaled. Nothing was repeated after a result.
    journal = [entry(0, "Command: Input", 0.0), entry(1, "Command: Run", 15.93, "route", 1),
               entry(2, "Notification: Run", 38.06, step=1), entry(3, "Command: Run", 39.85, "ask", 2),
               entry(4, "Notification: Run", 40.61, step=2), entry(5, "Command: Output", 40.7)]
    calls = [call(1, "route", 12.17, 12.17), call(2, "route", 19.09, 19.09), call(3, "route", 37.89, 37.89),
             call(4, "ask", 40.52, 40.52)]
    assert labels(calls, journal) == {1: "wasted", 2: "wasted", 3: "committed", 4: "committed"}


def test_a_journaled_step_called_again_after_its_result_is_a_duplicate_and_says_which_run() -> None:
    journal = [entry(0, "Command: Input", 0.0), entry(1, "Command: Run", 0.1, "route", 1),
               entry(2, "Notification: Run", 0.3, step=1), entry(3, "Command: Output", 2.0)]
    calls = [call(1, "route", 0.2, 0.29), call(2, "route", 1.0, 1.1)]
    classified = {c.call.id: c for c in classify(calls, {INV: journal}, {TOKEN: INV})}
    assert classified[2].label == "duplicate"
    assert "step 'route'" in classified[2].reason and "#1" in classified[2].reason


def test_the_next_steps_call_finishing_just_after_a_result_is_not_taken_for_its_answer() -> None:
    # Seen in a soak: routing's result at 4.889, routing's answer at 4.846, and the
    # specialist's answer at 4.936; the specialist was later retried after a reset.
    journal = [entry(0, "Command: Input", 4.792), entry(1, "Command: Run", 4.83, "route", 1),
               entry(2, "Notification: Run", 4.889, step=1), entry(3, "Command: Run", 4.923, "ask", 2),
               entry(4, "Notification: Run", 6.896, step=2), entry(5, "Command: Output", 6.897)]
    calls = [call(1, "route", 4.846, 4.846), call(2, "ask", 4.932, 4.936), call(3, "ask", 6.894, 6.895)]
    assert labels(calls, journal) == {1: "committed", 2: "wasted", 3: "committed"}


# --- on histories recorded from real runs (tests/fixtures/histories) -----------------------


@pytest.mark.parametrize("name", H.names())
def test_the_classifier_counts_what_each_run_reported(name: str) -> None:
    calls = classify_history(H.load(name))
    recorded = H.recorded(name)
    assert tally(llm_calls(calls)) == recorded["llm_calls"]
    assert (tally(side_effects(calls)) if side_effects(calls) else {}) == recorded["side_effects"]


@pytest.mark.parametrize(("name", "expected"), [
    (H.KILL_ROUTER, {1: "committed", 2: "wasted", 3: "committed"}),
    (H.STREAM_CUT, {1: "committed", 2: "wasted", 3: "committed"}),
    (H.SERVER_RESTART, {1: "committed", 2: "wasted", 3: "committed"}),
    (H.REMOTE_BASELINE, {1: "committed", 2: "committed"}),
    (H.KILL_REMOTE, {1: "committed", 2: "wasted", 3: "committed"}),
    (H.LLM_DOWN, dict.fromkeys(range(1, 7), "wasted")),
    (H.MUTANT_ROUTING, {1: "committed", 2: "wasted", 3: "duplicate", 4: "committed"}),
    (H.MUTANT_REFUND, {1: "committed", 2: "wasted", 3: "committed"}),
])
def test_each_llm_call_of_a_recorded_run_is_labelled(name: str, expected: dict[int, str]) -> None:
    assert {i: c.label for i, c in H.classified(H.load(name)).items()} == expected


def test_a_killed_specialist_call_is_wasted_and_its_retry_is_the_steps_answer() -> None:
    calls = H.classified(H.load(H.KILL_ROUTER))
    assert calls[2].reason == "superseded by a retry: its answer was never journaled"
    assert (calls[2].attempt, calls[3].attempt) == (1, 2)
    assert calls[3].reason == "its answer was journaled as the result of step 'ask BillingAgent' (journal index 3)"
    assert calls[1].step is not None and (calls[1].step.name, calls[1].step.index) == ("route", 1)


def test_a_cut_stream_and_an_llm_error_say_why_they_were_wasted() -> None:
    assert H.classified(H.load(H.STREAM_CUT))[2].reason == "the call ended 'cut' (status 200); a retry was legitimate"
    down = H.classified(H.load(H.LLM_DOWN))
    assert {c.reason for c in down.values()} == {"the call ended 'error' (status 503); a retry was legitimate"}
    assert [c.attempt for c in down.values()] == [1, 2, 3, 4, 5, 6]


def test_the_mutants_routing_call_made_outside_ctx_run_is_judged_by_the_progress_it_drove() -> None:
    calls = H.classified(H.load(H.MUTANT_ROUTING))
    assert calls[1].step is None and calls[1].reason == "its answer was used: the journal progressed after it"
    assert calls[3].reason == (
        "call #1 had already answered, and the journal recorded 'Command: Run ask BillingAgent' (index 1) "
        "after that answer, before this call"
    )


def test_side_effects_of_the_remote_runs() -> None:
    def effects(name: str) -> list[tuple[int, str, str]]:
        return [(c.call.id, c.label, c.reason) for c in side_effects(classify_history(H.load(name)))]

    journaled = "its answer was journaled as the result of step 'issue refund' (journal index 1)"
    assert effects(H.REMOTE_BASELINE) == [(1, "committed", journaled)]
    assert effects(H.KILL_REMOTE) == [(1, "committed", journaled)]
    assert [(i, label) for i, label, _ in effects(H.MUTANT_REFUND)] == [(1, "committed"), (2, "duplicate")]
    assert effects(H.KILL_ROUTER) == []


def test_calls_of_a_call_tree_are_tied_to_its_root_invocation() -> None:
    history = H.load(H.KILL_REMOTE)
    root = history.requests[0].invocation_id
    assert {c.invocation_id for c in classify_history(history)} == {root}


def test_the_soaks_wasted_calls_are_its_429s_and_the_answers_lost_to_a_reset() -> None:
    calls = H.classified(H.load(H.SOAK))
    wasted = {i: c.call.outcome for i, c in calls.items() if c.label == "wasted"}
    assert wasted == {63: "error", 65: "error", 66: "error", 140: "ok", 141: "ok"}
    assert len({c.invocation_id for c in calls.values()}) == 100


def test_a_call_with_no_token_of_the_run_is_judged_against_no_journal() -> None:
    history = H.load(H.KILL_ROUTER)
    history.llm_calls.append(replace(history.llm_calls[0], id=9, token=None))
    stray = next(c for c in classify_history(history) if c.call.id == 9)
    assert (stray.invocation_id, stray.label) == (None, "committed")  # nothing to hold it against


# --- parallel steps: tied to their calls by the journaled value, never by timing ---------------

PARALLEL = ("billing", "account", "product")  # started together, in this order: completion ids 1, 2, 3


def answered(id: int, fingerprint: str, arrived: float, finished: float | None) -> LLMCall:
    """A call whose answer, like the fake's, carries a text of its own."""
    text = f"Auto answer {fingerprint}-0f3a [{TOKEN}]"
    return replace(call(id, fingerprint, arrived, finished), response={"choices": [{"message": {"content": text}}]})


def result_entry(index: int, at: float, step: int, fingerprint: str) -> JournalEntry:
    """The step's result, with the value Restate journaled: the answer's text, JSON-encoded."""
    text = f'"Auto answer {fingerprint}-0f3a [{TOKEN}]"'
    return replace(entry(index, "Notification: Run", at, step=step), value=text)


def parallel_run(finishing: tuple[str, ...], kept: int, repeat: str | None = None) -> tuple[list[LLMCall], list[JournalEntry]]:
    """Three steps started together; their answers come back in ``finishing`` order, 5 ms
    apart, and the first ``kept`` results are journaled before the agent is killed. The retry
    calls the others again, as Restate replays the journal; ``repeat`` is a step the mutant
    calls again although its result was journaled."""
    journal = [entry(0, "Command: Input", 0.0)]
    journal += [entry(i + 1, "Command: Run", 0.100, f"Ask {f}", i + 1) for i, f in enumerate(PARALLEL)]
    calls = [answered(i + 1, f, 0.110 + 0.007 * i, 0.200 + 0.005 * finishing.index(f)) for i, f in enumerate(PARALLEL)]
    for n, f in enumerate(finishing[:kept]):  # results journaled in the order they came back
        journal.append(result_entry(len(journal), 0.215 + 0.002 * n, PARALLEL.index(f) + 1, f))
    again = [f for f in PARALLEL if f not in finishing[:kept]] + ([repeat] if repeat else [])
    for n, f in enumerate(again):  # after the restart
        calls.append(answered(len(calls) + 1, f, 1.0 + 0.01 * n, 1.05 + 0.01 * n))
        if f != repeat:
            journal.append(result_entry(len(journal), 1.10 + 0.01 * n, PARALLEL.index(f) + 1, f))
    journal.append(entry(len(journal), "Command: Output", 2.0))
    return calls, journal


@pytest.mark.parametrize("kept", [0, 1, 2, 3])
def test_parallel_steps_never_give_a_duplicate_whatever_order_their_answers_come_back_in(kept: int) -> None:
    from itertools import permutations

    for finishing in permutations(PARALLEL):
        calls, journal = parallel_run(finishing, kept)
        classified = classify(calls, {INV: journal}, {TOKEN: INV})
        assert [c.label for c in classified].count("duplicate") == 0, (finishing, [(c.call.id, c.reason) for c in classified])
        committed = {c.call.fingerprint: c.call.id for c in classified if c.label == "committed"}
        assert set(committed) == set(PARALLEL), (finishing, committed)
        # The journaled answer's own call is the committed one: kept ones from the first attempt.
        assert all(committed[f] == PARALLEL.index(f) + 1 for f in finishing[:kept]), (finishing, committed)


def test_the_issues_interleaving_ties_account_to_its_own_call() -> None:
    # Seen: calls #1-#3 arrived within 21 ms, only 'Ask AccountAgent' (#2) was journaled before
    # the kill, and #3 (billing) finished last: by timing, #3 looked like account's answer.
    calls, journal = parallel_run(("account", "product", "billing"), kept=1)
    labels_of = {c.call.id: (c.label, c.step.name if c.step else None) for c in classify(calls, {INV: journal}, {TOKEN: INV})}
    assert labels_of[2] == ("committed", "Ask account")
    assert labels_of[1][0] == labels_of[3][0] == "wasted"
    assert {labels_of[4][0], labels_of[5][0]} == {"committed"}


def test_a_parallel_step_called_again_after_its_result_was_journaled_is_a_duplicate() -> None:
    calls, journal = parallel_run(("billing", "account", "product"), kept=2, repeat="account")
    classified = {c.call.id: c for c in classify(calls, {INV: journal}, {TOKEN: INV})}
    again = classified[len(calls)]
    assert again.call.fingerprint == "account" and again.label == "duplicate", again.reason
    assert "step 'Ask account'" in again.reason and "#2" in again.reason


def test_parallel_steps_with_no_value_to_tie_them_by_are_left_untied_not_guessed() -> None:
    calls, journal = parallel_run(("account", "product", "billing"), kept=1)
    journal = [replace(e, value=None) for e in journal]  # a history recorded without step values
    classified = classify(calls, {INV: journal}, {TOKEN: INV})
    assert not [c for c in classified if c.label == "duplicate"]
    assert any("could not be tied to one call" in c.reason for c in classified)


def test_an_answer_stamped_after_its_result_was_journaled_under_load_is_still_the_committed_one() -> None:
    # Seen with 8 requests at once on two busy test workers: the fake stamped the answer 20 ms
    # after Restate journaled it (and after the output); the call was then taken for wasted.
    journal = [entry(0, "Command: Input", 0.0), entry(1, "Command: Run", 0.1, "ask", 1),
               entry(2, "Notification: Run", 0.200, step=1), entry(3, "Command: Output", 0.205)]
    calls = [call(1, "ask", 0.15, 0.220)]
    assert labels(calls, journal) == {1: "committed"}


def test_progress_journaled_just_before_a_late_stamped_answer_still_makes_its_repeat_a_duplicate() -> None:
    # Seen in CI under load: a refund made before a step, stamped as arriving 2.6 ms after the
    # step's command was journaled and answering 10 ms after it; a kill, and the refund again.
    journal = [entry(0, "Command: Input", 0.131), entry(1, "Command: Run", 0.217, "ask", 1),
               entry(2, "Notification: Run", 2.32, step=1), entry(3, "Command: Output", 2.323)]
    calls = [call(1, "refund", 0.2196, 0.2272), call(2, "ask", 0.3197, None),  # the step's call, killed
             call(3, "refund", 2.2219, 2.2221), call(4, "ask", 2.3119, 2.3127)]
    assert labels(calls, journal) == {1: "committed", 2: "wasted", 3: "duplicate", 4: "committed"}

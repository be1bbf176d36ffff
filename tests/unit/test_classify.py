"""The call classifier on hand-built ledgers and journals: the rules that decide whether
a repeated LLM call was a legitimate retry or a duplicate."""

from __future__ import annotations

from harness.checker.classify import classify
from harness.fake_llm import LLMCall
from harness.history import JournalEntry

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

"""The poisoned journal, on histories built as Restate and the fake LLM record them: a bad
answer journaled by its step and parsed after it keeps the invocation from finishing (a
finding, reported alone: the liveness and terminal-failure checks leave that request to
it); the twin that parsed inside the step and asked again is not poisoned; and an
invocation stuck for another reason is not called poisoned."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.checker.checks import FinishedDespiteTransientFaults
from harness.checker.classify import classify_history
from harness.checker.liveness import RecoversAfterHealing
from harness.checker.poisoned import NoPoisonedJournal, poisoned_requests
from harness.history import FaultRecord, History, Invocation, JournalEntry, LLMCall, Request, Samples

T0 = 1_000.0
ROOT = "inv_root"
TOKEN = "rrh-1"
BAD = '{"claimant": 42, "amount": "lots"} rrh-1'  # valid JSON text that breaks the schema (token after it)
GOOD = '{"claimant": "Ada rrh-1", "amount": 120.5}'
ERROR = "ValidationError: 2 validation errors for Claim\nclaimant\n  Input should be a valid string"


def llm_call(id: int, at: float, content: str, *, rule_id: str | None = None, flaw: str | None = None,
             fingerprint: str = "fp-extract") -> LLMCall:
    return LLMCall(
        id=id, arrived_at=T0 + at, finished_at=T0 + at + 0.05, released_at=None, disconnected_at=None, held=False,
        token=TOKEN, fingerprint=fingerprint, model="gpt-4o-mini", rule_index=0, status=200, outcome="ok", stream=False,
        request={"messages": [{"role": "user", "content": f"Extract the claim {TOKEN}"}]},
        response={"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]},
        usage=None, rule_id=rule_id, output_format="json_object", flaw=flaw,
    )


def run(index: int, at: float, completion_id: int, name: str = "call LLM") -> JournalEntry:
    return JournalEntry(ROOT, index, "Command: Run", name, T0 + at, {"Command": {"Run": {"completion_id": completion_id}}})


def result(index: int, at: float, completion_id: int, value: str) -> JournalEntry:
    return JournalEntry(ROOT, index, "Notification: Run", "", T0 + at,
                        {"Notification": {"id": {"CompletionId": completion_id}}}, value=value)


INPUT = JournalEntry(ROOT, 0, "Command: Input", "", T0, {})
FAULT = FaultRecord("llm_schema_violation", "llm", T0 + 0.01, T0 + 0.12, {"times": 1, "rule_id": "r1"})
POISONED_CALL = llm_call(1, 0.1, BAD, rule_id="r1", flaw="schema_violation")
STILL_FAILING = Invocation(ROOT, "backing-off", "ClaimIntake/extract", retry_count=9, last_failure=ERROR,
                           last_failure_error_code="500")


def history(invocation: Invocation, calls: list[LLMCall], journal: list[JournalEntry], *,
            faults: list[FaultRecord] | None = None, attempts: int = 9) -> History:
    return History(
        started_at=T0, requests=[Request(TOKEN, "q", ROOT, "key-1", T0)], invocations=[invocation],
        faults=[FAULT] if faults is None else faults, llm_calls=calls, journal=[INPUT, *journal],
        samples=Samples(max_retry_count={ROOT: attempts}, failures_seen={ROOT: [f"500: {ERROR}"]}),
        ended_at=T0 + 40.0,
    )


def poisoned() -> History:
    """The mutant: the step journaled the bad answer; every attempt since fails after it."""
    return history(STILL_FAILING, [POISONED_CALL], [run(1, 0.1, 1), result(2, 0.16, 1, BAD)])


# Probes recorded by `restate-resilience validate` (restate-server 1.7.12) on the mutants
# agents/mutants/poisoned_parse_outside_sdk and poisoned_tool_args_sdk, and their twins.
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "validation"


def recorded(name: str) -> History:
    return History.from_json(json.loads((FIXTURES / f"{name}.json").read_text()))


def judge(check, h: History):  # type: ignore[no-untyped-def]
    return check.evaluate(h, classify_history(h))


# --- the finding -----------------------------------------------------------------------------


def test_a_bad_answer_journaled_and_failing_after_its_step_is_a_poisoned_journal() -> None:
    found = judge(NoPoisonedJournal(), poisoned())
    assert found.failed and found.bug_class == "poisoned_journal" and found.exercised
    # The evidence names the step, its journaled output and the error raised after it.
    assert "step 'call LLM' (journal index 1)" in found.message
    assert repr(BAD) in found.message
    assert "LLM call #1's bad answer (schema_violation)" in found.message
    assert "still backing-off after 9 attempts" in found.message
    assert "ValidationError: 2 validation errors for Claim" in found.message


def test_a_long_journaled_answer_is_shown_truncated() -> None:
    long_bad = '{"notes": "' + "x" * 900 + '"} rrh-1'
    h = history(STILL_FAILING, [replace(POISONED_CALL, response={"choices": [{"message": {"content": long_bad}}]})],
                [run(1, 0.1, 1), result(2, 0.16, 1, long_bad)])
    found = judge(NoPoisonedJournal(), h)
    assert found.failed and "x" * 150 + "…" in found.message and "x" * 300 not in found.message


def test_a_terminal_failure_after_the_step_is_poisoned_too() -> None:
    failed = Invocation(ROOT, "completed", "ClaimIntake/extract", completed_at=T0 + 3.0, completion_result="failure",
                        completion_failure="[500] JSONDecodeError: Expecting value: line 1 column 1 (char 0)")
    h = history(failed, [POISONED_CALL], [run(1, 0.1, 1), result(2, 0.16, 1, BAD),
                                           JournalEntry(ROOT, 3, "Command: Output", "", T0 + 3.0, {})], attempts=1)
    found = judge(NoPoisonedJournal(), h)
    assert found.failed and "failed terminally after it: [500] JSONDecodeError" in found.message
    # Its terminal failure is the poisoned journal's evidence, not a retry bound's cost as well.
    assert judge(FinishedDespiteTransientFaults(severity="advisory"), h).ok


def test_the_liveness_check_leaves_a_poisoned_request_to_the_poisoned_check() -> None:
    h = poisoned()
    assert poisoned_requests(h) == {ROOT}
    stuck = judge(RecoversAfterHealing(bound_s=16.0), h)
    assert stuck.ok and not stuck.exercised
    assert "poisoned journal" in stuck.message


def test_another_request_stuck_for_its_own_reason_is_still_a_liveness_finding() -> None:
    h = poisoned()
    other = Invocation("inv_other", "backing-off", "ClaimIntake/extract", last_failure="boom: the database is down")
    h = replace(h, requests=[*h.requests, Request("rrh-2", "q", "inv_other", "key-2", T0)],
                invocations=[*h.invocations, other])
    stuck = judge(RecoversAfterHealing(bound_s=16.0), h)
    assert stuck.failed and "inv_other" in stuck.message and ROOT + " " not in stuck.message
    assert "1 request(s) kept by a poisoned journal" not in stuck.message  # the finding names the stuck one


# --- the twin: the answer parsed inside the step -----------------------------------------------


def test_the_twin_that_raised_inside_the_step_and_asked_again_is_not_poisoned() -> None:
    # The step's parse failed on the bad answer, so nothing was journaled; Restate retried the
    # step, the same request went out again and its good answer was journaled; it finished.
    done = Invocation(ROOT, "completed", "ClaimIntake/extract", completed_at=T0 + 1.0, completion_result="success")
    h = history(done, [POISONED_CALL, llm_call(2, 0.4, GOOD)],
                [run(1, 0.1, 1), result(2, 0.5, 1, GOOD), JournalEntry(ROOT, 3, "Command: Output", "", T0 + 0.9, {})],
                attempts=1)
    found = judge(NoPoisonedJournal(), h)
    assert found.ok and found.exercised, found.message
    assert "1 bad answer fault(s)" in found.message


def test_a_bad_answer_the_handler_got_past_is_not_poisoned() -> None:
    # Journaled, and the handler went on (a degraded answer is the answer check's business).
    done = Invocation(ROOT, "completed", "ClaimIntake/extract", completed_at=T0 + 1.0, completion_result="success")
    h = history(done, [POISONED_CALL], [run(1, 0.1, 1), result(2, 0.16, 1, BAD)], attempts=1)
    assert judge(NoPoisonedJournal(), h).ok


def test_no_value_fault_leaves_the_check_unexercised() -> None:
    found = judge(NoPoisonedJournal(), history(STILL_FAILING, [], [], faults=[]))
    assert found.ok and not found.exercised


# --- near misses: stuck, but not on a journaled bad answer ---------------------------------------


def test_an_invocation_stuck_on_a_later_step_is_not_poisoned() -> None:
    # The bad answer was journaled and the handler went past it; a later step fails for good.
    h = history(STILL_FAILING, [POISONED_CALL],
                [run(1, 0.1, 1), result(2, 0.16, 1, BAD), run(3, 0.2, 2, name="save claim")])
    assert judge(NoPoisonedJournal(), h).ok
    assert judge(RecoversAfterHealing(bound_s=16.0), h).failed  # still stuck: a liveness finding


def test_an_invocation_stuck_with_no_bad_answer_is_not_poisoned() -> None:
    outage = FaultRecord("llm_5xx", "llm", T0 + 0.01, T0 + 0.12, {"times": 1, "rule_id": "r1"})
    h = history(STILL_FAILING, [POISONED_CALL], [run(1, 0.1, 1), result(2, 0.16, 1, BAD)], faults=[outage])
    assert not judge(NoPoisonedJournal(), h).exercised
    assert judge(RecoversAfterHealing(bound_s=16.0), h).failed


def test_a_call_made_again_after_its_step_is_not_a_kept_answer() -> None:
    # The same request went out again after the step journaled the bad answer (a framework
    # re-asking): the journal did not keep the invocation on it.
    again = llm_call(2, 1.0, GOOD)
    h = history(STILL_FAILING, [POISONED_CALL, again], [run(1, 0.1, 1), result(2, 0.16, 1, BAD)])
    assert judge(NoPoisonedJournal(), h).ok


def test_a_bad_answer_not_yet_replayed_is_not_judged_poisoned() -> None:
    # One attempt only: nothing has replayed the journal yet.
    h = history(replace(STILL_FAILING, retry_count=1), [POISONED_CALL], [run(1, 0.1, 1), result(2, 0.16, 1, BAD)],
                attempts=1)
    assert judge(NoPoisonedJournal(), h).ok


def test_a_bad_answer_fault_that_never_healed_is_not_poisoned() -> None:
    forever = replace(FAULT, undone_at=None)
    h = history(STILL_FAILING, [POISONED_CALL], [run(1, 0.1, 1), result(2, 0.16, 1, BAD)], faults=[forever])
    assert judge(NoPoisonedJournal(), h).ok


# --- recorded: the mutants and their twins under validate's probes ------------------------------


@pytest.mark.parametrize(("name", "step", "flaw", "error"), [
    ("poisoned-parse-outside-sdk-schema-violation", "extract claim", "schema_violation", "validation error for ClaimData"),
    ("poisoned-tool-args-sdk-bad-tool-args", "pick specialist", "bad_tool_args", "JSONDecodeError"),
])
def test_a_recorded_mutant_is_a_poisoned_journal_and_nothing_else(name: str, step: str, flaw: str, error: str) -> None:
    h = recorded(name)
    found = judge(NoPoisonedJournal(), h)
    assert found.failed, found.message
    assert f"step '{step}' (journal index 1) journaled LLM call #1's bad answer ({flaw})" in found.message
    assert error in found.message and "Traceback" not in found.message
    # Still open after healing, but left to the poisoned check: not also stuck.
    assert h.invocation[h.requests[0].invocation_id].status == "backing-off"
    assert judge(RecoversAfterHealing(bound_s=1.0), h).ok
    assert judge(FinishedDespiteTransientFaults(), h).ok


@pytest.mark.parametrize("name", ["parse-inside-step-sdk-schema-violation", "tool-args-inside-step-sdk-bad-tool-args"])
def test_a_recorded_twin_asked_again_and_finished(name: str) -> None:
    h = recorded(name)
    found = judge(NoPoisonedJournal(), h)
    assert found.ok and found.exercised, found.message
    assert h.invocation[h.requests[0].invocation_id].succeeded
    flawed = [c for c in h.llm_calls if c.flaw is not None]
    assert len(flawed) == 1 and any(c.fingerprint == flawed[0].fingerprint and c.flaw is None for c in h.llm_calls)

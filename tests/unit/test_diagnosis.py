"""The diagnosis: one row per bug class from every run's check results. A finding fails its
class; an advisory is listed and fails only when the user asks (--fail-on); a symptom of
another finding in the same run is listed under its cause."""

from __future__ import annotations

import pytest

from harness.checker.checks import BUG_CLASSES
from harness.errors import HarnessError
from harness.results.schema import FindingRow
from harness.validate.diagnosis import FIX, SYMPTOMS, WHY, Advisory, ProbeOutcome, diagnose, fail_on_classes


def finding(bug_class: str, ok: bool = True, message: str = "fine", **kw: object) -> FindingRow:
    return FindingRow(check=f"check of {bug_class}", ok=ok, message=message, bug_class=bug_class, **kw)  # type: ignore[arg-type]


def outcome(probe: str, *findings: FindingRow, verdict: str | None = None) -> ProbeOutcome:
    failed = any(f.failed for f in findings)
    return ProbeOutcome(probe, verdict or ("fail" if failed else "pass"), tuple(findings))


STORM_ADVISORY = finding("retry_storm", ok=False, message="about 3 LLM call(s) per Restate attempt", severity="advisory",
                         advice="turn the client's retries off")


def test_every_bug_class_has_a_why_and_a_fix_and_symptoms_name_known_classes() -> None:
    assert set(WHY) == set(FIX) == set(BUG_CLASSES)
    assert {c for symptoms in SYMPTOMS.values() for c in symptoms} | set(SYMPTOMS) <= set(BUG_CLASSES)


def test_a_failed_finding_fails_its_class_with_the_run_why_fix_and_evidence() -> None:
    rows = diagnose([outcome("kill-agent-at-llm-call-1", finding("duplicate_llm_call", ok=False, message="call #3: again"),
                             finding("non_determinism"))])
    row = rows["duplicate_llm_call"]
    assert (row.verdict, row.scenario, row.evidence) == ("fail", "kill-agent-at-llm-call-1", "call #3: again")
    assert (row.why, row.fix) == (WHY["duplicate_llm_call"], FIX["duplicate_llm_call"])
    assert row.exercised_by == ["kill-agent-at-llm-call-1"]
    assert rows["non_determinism"].verdict == "pass"
    assert rows["retry_storm"].verdict == "skipped"


def test_a_finding_that_knows_what_it_saw_gives_its_own_fix_and_the_class_keeps_its_why() -> None:
    """A bad answer taken for a good one is not a caught exception: the class's general fix
    (do not catch transient errors) would send the user the wrong way."""
    bad = finding("degraded_answer", ok=False, message="committed an empty answer", advice="raise inside the step")
    row = diagnose([outcome("llm-bad-tool-args-at-call-1", bad)])["degraded_answer"]
    assert (row.verdict, row.why, row.fix) == ("fail", WHY["degraded_answer"], "raise inside the step")
    assert "bad answer of the LLM" in row.why and "fallback" in row.why


def test_a_failed_advisory_alone_makes_an_advisory_row_listing_it() -> None:
    rows = diagnose([outcome("llm-down-then-back", finding("retry_storm"), STORM_ADVISORY)])
    row = rows["retry_storm"]
    assert (row.verdict, row.scenario, row.promoted) == ("advisory", None, False)
    assert row.advisories == [Advisory("llm-down-then-back", "check of retry_storm", "about 3 LLM call(s) per Restate attempt",
                                       "turn the client's retries off")]


def test_an_advisory_of_a_class_the_user_fails_on_fails_it_promoted() -> None:
    rows = diagnose([outcome("llm-down-then-back", STORM_ADVISORY)], fail_on=frozenset({"retry_storm"}))
    row = rows["retry_storm"]
    assert (row.verdict, row.scenario, row.promoted) == ("fail", "llm-down-then-back", True)
    assert (row.evidence, row.fix, row.why) == ("about 3 LLM call(s) per Restate attempt", "turn the client's retries off",
                                                WHY["retry_storm"])


def test_a_different_answer_after_a_journal_mismatch_is_caused_by_it() -> None:
    rows = diagnose([outcome("always-replay", finding("non_determinism", ok=False, message="RT0016 mismatch"),
                             finding("degraded_answer", ok=False, message="answered 'sorry'"))])
    assert (rows["non_determinism"].verdict, rows["non_determinism"].evidence) == ("fail", "RT0016 mismatch")
    caused = rows["degraded_answer"]
    assert (caused.verdict, caused.caused_by, caused.scenario, caused.evidence) == (
        "caused", "non_determinism", "always-replay", "answered 'sorry'")
    assert "symptom of the non_determinism finding" in caused.why


def test_a_different_answer_with_nothing_else_failing_is_a_degraded_answer() -> None:
    rows = diagnose([
        outcome("always-replay", finding("duplicate_llm_call", ok=False, message="call #3"), finding("degraded_answer")),
        outcome("llm-429-at-call-1", finding("duplicate_llm_call"), finding("degraded_answer", ok=False, message="fallback")),
    ])
    row = rows["degraded_answer"]
    assert (row.verdict, row.scenario, row.evidence, row.caused_by) == ("fail", "llm-429-at-call-1", "fallback", None)
    assert row.exercised_by == ["always-replay", "llm-429-at-call-1"]


def test_an_agent_shown_not_deterministic_has_its_different_answers_put_under_non_determinism() -> None:
    # Unjournaled randomness answers differently after any retry, with or without a mismatch in that run.
    rows = diagnose([
        outcome("always-replay", finding("non_determinism", ok=False, message="RT0016"), finding("degraded_answer")),
        outcome("kill-agent-at-llm-call-1", finding("non_determinism"), finding("degraded_answer", ok=False, message="other")),
    ])
    assert rows["non_determinism"].verdict == "fail"
    row = rows["degraded_answer"]
    assert (row.verdict, row.caused_by, row.scenario, row.evidence) == ("caused", "non_determinism",
                                                                        "kill-agent-at-llm-call-1", "other")


def test_the_cause_named_for_a_symptom_is_the_root_whatever_the_order() -> None:
    # degraded_answer is a symptom of both; duplicate_child_work is itself a symptom of non_determinism.
    for order in (("non_determinism", "duplicate_child_work", "degraded_answer"),
                  ("degraded_answer", "duplicate_child_work", "non_determinism")):
        rows = diagnose([outcome("always-replay", *(finding(c, ok=False, message=c) for c in order))])
        assert rows["degraded_answer"].caused_by == "non_determinism", order
        assert rows["duplicate_child_work"].caused_by == "non_determinism", order


def test_a_result_that_was_not_exercised_leaves_its_class_skipped() -> None:
    rows = diagnose([outcome("kill-agent-after-step-1", finding("duplicate_side_effect", ok=False, exercised=False,
                                                                message="no side effect was made: nothing to judge"))])
    assert rows["duplicate_side_effect"].verdict == "skipped"
    assert rows["duplicate_side_effect"].exercised_by == []


def test_unknown_and_skipped_runs_are_ignored() -> None:
    bad = finding("stuck_invocation", ok=False, message="still running")
    rows = diagnose([outcome("llm-hang", bad, verdict="unknown"),
                     ProbeOutcome("kill-agent-at-llm-call-1", "skipped", (bad,), skipped="a deployment given by --url")])
    assert {cls: row.verdict for cls, row in rows.items()} == dict.fromkeys(BUG_CLASSES, "skipped")


def test_fail_on_takes_a_class_by_a_prefix_only_it_has() -> None:
    assert fail_on_classes("stuck") == {"stuck_invocation"}
    assert fail_on_classes("stuck,retry_storm") == {"stuck_invocation", "retry_storm"}
    assert fail_on_classes(" retry , non_determinism") == {"retry_storm", "non_determinism"}
    assert fail_on_classes("all") == set(BUG_CLASSES)


@pytest.mark.parametrize("text", ["dup", "nope", "stuck,"])
def test_fail_on_refuses_an_ambiguous_or_unknown_class_in_one_line(text: str) -> None:
    with pytest.raises(HarnessError) as raised:
        fail_on_classes(text)
    message = str(raised.value)
    assert "\n" not in message
    assert f"--fail-on {text!r}" in message
    assert ", ".join(BUG_CLASSES) in message


def test_a_poisoned_journal_fails_its_own_class_with_the_fix_the_issue_names() -> None:
    rows = diagnose([outcome("llm-schema-violation-at-call-1",
                             finding("poisoned_journal", ok=False, message="step 'extract claim' journaled ..."),
                             finding("stuck_invocation"), finding("degraded_answer"))])
    assert rows["poisoned_journal"].verdict == "fail"
    assert rows["poisoned_journal"].fix.startswith("Parse and validate the answer inside the step; raise there so "
                                                   "Restate retries the call")
    assert {rows["stuck_invocation"].verdict, rows["degraded_answer"].verdict} == {"pass"}
    assert fail_on_classes("poisoned") == {"poisoned_journal"}

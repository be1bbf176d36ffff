"""The judge on recorded histories: it reproduces what each run reported, and gives every
verdict (pass, fail, expected failure, unknown) for the right reason."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness.checker.checks import AllCompleted, FailedTerminally, NoDuplicateLLMCalls
from harness.checker.judge import RunInfo, _answer_excerpt, judge
from harness.results.rows import row_to_json
from tests.unit import histories as H
from tests.unit.histories import info, load, root, variant

NOTHING = "nothing was exercised: no request, no LLM call, or a fault never fired"


def plain(rows: Any) -> list[dict[str, Any]]:
    """Result rows as the plain objects results.json holds."""
    return [row_to_json(row) for row in rows]


@pytest.mark.parametrize("name", H.names())
def test_re_judging_a_recorded_history_gives_what_its_run_reported(name: str) -> None:
    recorded = H.recorded(name)
    result = judge(info(name), load(name), recorded["errors"])
    assert result.verdict == recorded["verdict"]
    assert result.invocations == recorded["invocations"]
    assert result.llm_calls == recorded["llm_calls"]
    assert result.side_effects == recorded["side_effects"]
    assert [{k: f[k] for k in ("check", "ok", "message")} for f in plain(result.findings)] == recorded["findings"]
    assert all(f["severity"] == "finding" for f in plain(result.findings))  # the catalogue's checks are all safety
    assert result.recovery_s == recorded["recovery_s"]
    assert result.suspended == recorded["suspended"]
    assert result.errors == []


@pytest.mark.parametrize(("name", "verdict"), [
    (H.KILL_ROUTER, "pass"), (H.STREAM_CUT, "pass"), (H.SERVER_RESTART, "pass"), (H.REMOTE_BASELINE, "pass"),
    (H.KILL_REMOTE, "pass"), (H.SOAK, "pass"), (H.LLM_DOWN, "expected failure"),
    (H.MUTANT_ROUTING, "fail"), (H.MUTANT_REFUND, "fail"),
])
def test_the_verdicts_of_the_recorded_runs(name: str, verdict: str) -> None:
    assert judge(info(name), load(name), []).verdict == verdict


def test_a_mutant_fails_on_exactly_the_duplicate_check() -> None:
    routing = judge(info(H.MUTANT_ROUTING), load(H.MUTANT_ROUTING), [])
    assert [f.check for f in routing.findings if not f.ok] == ["no duplicate LLM calls"]
    assert routing.llm_calls == {"committed": 2, "wasted": 1, "duplicate": 1}
    refund = judge(info(H.MUTANT_REFUND), load(H.MUTANT_REFUND), [])
    assert [f.check for f in refund.findings if not f.ok] == ["no duplicate side effects"]
    assert refund.side_effects == {"committed": 1, "wasted": 0, "duplicate": 1}


def test_expected_failure_needs_the_scenario_to_expect_it() -> None:
    history = load(H.LLM_DOWN)
    checks = (FailedTerminally("overloaded"), NoDuplicateLLMCalls())
    assert judge(info(H.LLM_DOWN, *checks, expect_failure=True), history, []).verdict == "expected failure"
    assert judge(info(H.LLM_DOWN, *checks, expect_failure=False), history, []).verdict == "pass"
    # Expecting a failure that did not happen fails.
    assert judge(info(H.KILL_ROUTER, FailedTerminally(), expect_failure=True), load(H.KILL_ROUTER), []).verdict == "fail"


def test_a_failed_check_fails_the_run_even_with_errors() -> None:
    result = judge(info(H.MUTANT_ROUTING), load(H.MUTANT_ROUTING), ["invocations not done after 60s"])
    assert result.verdict == "fail"
    assert result.errors == ["invocations not done after 60s"]


# --- unknown -------------------------------------------------------------------------------


def test_no_history_is_unknown_with_the_errors() -> None:
    result = judge(info(H.KILL_ROUTER), None, ["restate-server did not start"])
    assert (result.verdict, result.errors) == ("unknown", ["restate-server did not start"])
    assert result.findings == [] and result.llm_calls == {"committed": 0, "wasted": 0, "duplicate": 0}
    assert (result.name, result.agent) == ("kill-router-during-specialist-call", "local-router")


def test_errors_make_a_passing_run_unknown() -> None:
    errors = ["trigger never fired within 20s: LLM call 2 is held"]
    result = judge(info(H.KILL_ROUTER), load(H.KILL_ROUTER), errors)
    assert result.verdict == "unknown"
    assert result.errors == errors  # nothing added: the run was exercised
    assert all(f.ok for f in result.findings)


def test_the_judge_does_not_touch_the_callers_errors() -> None:
    errors: list[str] = []
    result = judge(info(H.KILL_ROUTER), variant(H.KILL_ROUTER, lambda d: d.update(llm_calls=[])), errors)
    assert errors == [] and result.errors == [NOTHING]


@pytest.mark.parametrize(("case", "edit"), [
    ("no LLM call", lambda d: d.update(llm_calls=[])),
    ("no request", lambda d: d.update(requests=[])),
    ("a fault that never applied", lambda d: d.update(planned_faults=d["planned_faults"] + 1)),
    ("no fault record at all", lambda d: d.update(faults=[])),
])
def test_nothing_exercised_is_unknown_never_pass(case: str, edit: Any) -> None:
    result = judge(info(H.KILL_ROUTER), variant(H.KILL_ROUTER, edit), [])
    assert result.verdict == "unknown", case
    assert result.errors == [NOTHING]


def test_a_fault_that_never_applied_makes_even_a_failing_run_unknown() -> None:
    history = variant(H.MUTANT_ROUTING, lambda d: d.update(planned_faults=2))
    result = judge(info(H.MUTANT_ROUTING), history, [])
    assert not next(f for f in result.findings if f.check == "no duplicate LLM calls").ok
    assert result.verdict == "unknown"


def test_the_soak_is_unknown_when_one_of_its_four_faults_never_fired() -> None:
    history = variant(H.SOAK, lambda d: d["faults"].pop())
    assert (history.planned_faults, len(history.faults)) == (4, 3)
    assert judge(info(H.SOAK), history, []).verdict == "unknown"


def test_a_run_with_no_fault_planned_and_none_applied_is_exercised() -> None:
    assert load(H.REMOTE_BASELINE).planned_faults == 0
    assert judge(info(H.REMOTE_BASELINE), load(H.REMOTE_BASELINE), []).verdict == "pass"


# --- figures -------------------------------------------------------------------------------


def test_the_figures_of_a_remote_kill() -> None:
    history = load(H.KILL_REMOTE)
    result = judge(info(H.KILL_REMOTE), history, [])
    assert result.invocations == {"sent": 1, "completed": 1, "failed": 0, "stuck": 0, "callees": 1}
    assert [(f.kind, f.target, f.at_s, f.healed_s) for f in result.faults] == [("kill", "billing", 0.731, 0.955)]
    assert [(c.id, c.class_, c.attempt) for c in result.calls] == [(1, "committed", 1), (2, "wasted", 1), (3, "committed", 2)]
    assert [c.answer for c in result.calls][:1] == ["tool call: BillingAgent"]
    assert {c.api for c in result.calls} == {"chat"}
    assert [(c.service, c.class_) for c in result.side_effect_calls] == [("refunds", "committed")]
    assert [t.parent for t in result.timeline] == [None, root(H.raw(H.KILL_REMOTE))]
    assert len(result.journal) == len(history.journal) == 13
    assert result.stuck == []


def test_an_invocation_still_running_is_counted_stuck_and_dumped() -> None:
    def running(d: dict[str, Any]) -> None:
        d["invocations"][0].update(status="running", completed_at=None, completion_result=None)

    result = judge(info(H.KILL_ROUTER), variant(H.KILL_ROUTER, running), [])
    assert result.verdict == "fail"
    assert result.invocations == {"sent": 1, "completed": 0, "failed": 0, "stuck": 1, "callees": 0}
    assert [s["invocation"]["status"] for s in result.stuck] == ["running"]
    assert len(result.stuck[0]["journal"]) == 6


def test_the_terminal_failure_is_counted_failed() -> None:
    result = judge(info(H.LLM_DOWN), load(H.LLM_DOWN), [])
    assert result.invocations == {"sent": 1, "completed": 0, "failed": 1, "stuck": 0, "callees": 0}
    assert [c.status for c in result.calls] == [503] * 6


def test_recovery_runs_from_the_heal_to_the_last_completion() -> None:
    history = load(H.KILL_ROUTER)
    result = judge(RunInfo("x", checks=(AllCompleted(),)), history, [])
    last = max(i.completed_at for i in history.invocations if i.completed_at)
    assert result.recovery_s == round(last - history.faults[0].undone_at, 3) == 1.872
    assert judge(RunInfo("x"), load(H.REMOTE_BASELINE), []).recovery_s is None  # no fault


def test_a_request_sent_after_the_fault_healed_does_not_count_in_recovery() -> None:
    def later_request(d: dict[str, Any]) -> None:
        at = d["faults"][0]["undone_at"] + 10.0
        d["requests"].append(dict(d["requests"][0], token="rrh-later", invocation_id="inv_later",
                                  idempotency_key="rrh-later", sent_at=at))
        d["invocations"].append(dict(d["invocations"][0], id="inv_later", created_at=at, completed_at=at + 0.5))
        d["outputs"]["inv_later"] = d["outputs"][root(d)]

    result = judge(info(H.KILL_ROUTER), variant(H.KILL_ROUTER, later_request), [])
    assert result.recovery_s == 1.872  # as without the later request


def test_the_soaks_recovery_is_the_worst_fault_to_the_invocations_it_held_up() -> None:
    history = load(H.SOAK)
    held_up = [
        max(i.completed_at for i in history.invocations if i.created_at <= f.undone_at < i.completed_at)
        - f.undone_at
        for f in history.faults
        if any(i.created_at <= f.undone_at < i.completed_at for i in history.invocations)
    ]
    assert round(max(held_up), 3) == 1.388
    assert judge(info(H.SOAK), history, []).recovery_s == 1.388


def test_the_answer_excerpt_reads_anthropic_and_gemini_answers() -> None:
    anthropic = {"type": "message", "content": [{"type": "text", "text": "Refunded."}]}
    gemini = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "Refund"}}]}}]}

    excerpts = [_answer_excerpt(SimpleNamespace(response=response)) for response in (anthropic, gemini)]

    assert excerpts == ['[{"type": "text", "text": "Refunded."}]', '[{"functionCall": {"name": "Refund"}}]']

"""The check "no acknowledged request lost", on hand-made histories."""

from __future__ import annotations

from harness.checker.checks import NoAcknowledgedRequestLost
from harness.checker.classify import classify_history
from harness.history import History, Invocation, Request


def _history(*invocations: Invocation, requests: tuple[str, ...] = ("inv_a", "inv_b")) -> History:
    return History(
        started_at=100.0,
        requests=[Request(f"rrh-{i}", "q", inv, f"rrh-{i}", 100.0 + i) for i, inv in enumerate(requests)],
        invocations=list(invocations),
    )


def _evaluate(history: History):
    return NoAcknowledgedRequestLost().evaluate(history, classify_history(history))


def test_passes_when_every_acknowledged_request_completed_with_either_outcome() -> None:
    finding = _evaluate(_history(Invocation("inv_a", "completed", completion_result="success"),
                                 Invocation("inv_b", "completed", completion_result="failure")))
    assert finding.ok
    assert finding.check == "no acknowledged request lost"
    assert finding.message == "2 acknowledged, 0 lost, 0 not completed"


def test_a_request_with_no_invocation_row_is_lost() -> None:
    finding = _evaluate(_history(Invocation("inv_a", "completed", completion_result="success")))
    assert not finding.ok
    assert finding.message == "2 acknowledged, 1 lost, 0 not completed: inv_b is missing"


def test_an_invocation_still_open_is_not_accounted_for() -> None:
    finding = _evaluate(_history(Invocation("inv_a", "completed", completion_result="success"),
                                 Invocation("inv_b", "backing-off")))
    assert not finding.ok
    assert finding.message.endswith("0 lost, 1 not completed: inv_b is backing-off")


def test_nothing_acknowledged_proves_nothing() -> None:
    assert not _evaluate(_history(requests=())).ok
    assert not _evaluate(_history(requests=("",))).ok  # a send with no invocation id was never acknowledged

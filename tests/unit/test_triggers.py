"""Triggers are conditions on a live run: each is judged here on a tiny fake ``RunContext``
(an LLM ledger, and typed ``sys_invocation``/``sys_journal`` rows, some from a recorded run)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest

from harness.fake_llm import LLMCall
from harness.history import Invocation, JournalEntry
from harness.nemesis.triggers import (
    After,
    At,
    AtStart,
    LLMCallHeld,
    RetryObserved,
    StepCompleted,
    StepsCompleted,
    TriggerTimeout,
    wait_for,
)
from tests.unit import histories as H


def llm_call(id: int, held: bool) -> LLMCall:
    return LLMCall(
        id=id, arrived_at=0.0, finished_at=None if held else 0.1, released_at=None, disconnected_at=None, held=held,
        token="rrh-000000000001", fingerprint=f"f{id}", model="m", rule_index=0, status=None if held else 200,
        outcome="held" if held else "ok", stream=False, request={}, response=None, usage=None,
    )


@dataclass
class FakeLLM:
    calls: list[LLMCall] = field(default_factory=list)


@dataclass
class FakeAdmin:
    """``sys_invocation`` and ``sys_journal``, typed, filtered by id as Restate's SQL would."""

    rows: list[Invocation] = field(default_factory=list)
    entries: list[JournalEntry] = field(default_factory=list)
    asked: list[list[str] | None] = field(default_factory=list)

    def invocations(self, ids: Sequence[str] | None = None) -> list[Invocation]:
        self.asked.append(None if ids is None else list(ids))
        return [r for r in self.rows if ids is None or r.id in ids]

    def journal(self, ids: Sequence[str] | None = None) -> list[JournalEntry]:
        self.asked.append(None if ids is None else list(ids))
        return [e for e in self.entries if ids is None or e.invocation_id in ids]

    def call_tree(self, roots: Sequence[str]) -> list[Invocation]:
        tree = [r for r in self.rows if r.id in roots]
        frontier = list(tree)
        while frontier:
            frontier = [r for r in self.rows if r.invoked_by_id in {p.id for p in frontier}]
            tree += frontier
        return tree


@dataclass
class FakeRun:
    started_at: float = field(default_factory=time.time)
    llm: FakeLLM = field(default_factory=FakeLLM)
    admin: FakeAdmin = field(default_factory=FakeAdmin)
    ids: list[str] = field(default_factory=list)

    def invocation_ids(self) -> list[str]:
        return list(self.ids)


def recorded_run(name: str) -> FakeRun:
    """A fake run whose admin answers with a recorded run's rows."""
    history = H.load(name)
    return FakeRun(admin=FakeAdmin(list(history.invocations), list(history.journal)),
                   ids=[r.invocation_id for r in history.requests])


# --- time ----------------------------------------------------------------------------------


def test_after_counts_from_when_it_was_armed() -> None:
    run, now = FakeRun(), time.time()
    assert After(0.5).fired(run, since=now - 0.6)
    assert not After(0.5).fired(run, since=now)
    assert not After(0.5).fired(run, since=now - 0.3)
    assert After(0).fired(run, since=now)
    assert After(0.5).describe() == "after 0.5s"


def test_at_counts_from_the_runs_time_zero_not_from_arming() -> None:
    now = time.time()
    assert At(1.0).fired(FakeRun(started_at=now - 1.5), since=now)
    assert not At(1.0).fired(FakeRun(started_at=now - 0.5), since=now - 10)
    assert At(1.25).describe() == "at 1.25s"


def test_at_start_fires_at_once() -> None:
    assert AtStart().fired(FakeRun(), since=time.time() + 100)
    assert AtStart.poll_s == 0.0
    assert AtStart().describe() == "before the workload starts"


# --- the fake LLM --------------------------------------------------------------------------


def test_llm_call_held_needs_that_call_and_it_held() -> None:
    run = FakeRun()
    assert not LLMCallHeld(2).fired(run, 0.0)  # no call yet
    run.llm.calls.append(llm_call(1, held=False))
    assert not LLMCallHeld(2).fired(run, 0.0)  # call 2 not arrived
    assert not LLMCallHeld(1).fired(run, 0.0)  # call 1 answered, not held
    run.llm.calls.append(llm_call(2, held=True))
    assert LLMCallHeld(2).fired(run, 0.0)
    run.llm.calls[1] = replace(run.llm.calls[1], held=False)  # released: no longer held
    assert not LLMCallHeld(2).fired(run, 0.0)
    assert LLMCallHeld(2).describe() == "LLM call 2 is held"


def test_llm_call_held_counts_calls_across_the_run() -> None:
    run = FakeRun(llm=FakeLLM([llm_call(1, held=True), llm_call(2, held=False), llm_call(3, held=True)]))
    assert [LLMCallHeld(n).fired(run, 0.0) for n in (1, 2, 3, 4)] == [True, False, True, False]


# --- Restate's introspection ---------------------------------------------------------------


def test_step_completed_on_a_recorded_journal() -> None:
    run = recorded_run(H.KILL_ROUTER)
    assert StepCompleted("route").fired(run, 0.0)
    assert StepCompleted("ask BillingAgent").fired(run, 0.0)
    assert not StepCompleted("ask AccountAgent").fired(run, 0.0)
    assert run.admin.asked[0] == run.ids  # asked about the run's invocations
    assert StepCompleted("route").describe() == "step 'route' is journaled as completed"


def test_step_completed_needs_the_steps_notification_not_only_its_command() -> None:
    run = recorded_run(H.KILL_ROUTER)
    inv = run.ids[0]
    # The journal as it stood before the specialist's answer was journaled (indexes 0-3).
    run.admin.entries = [e for e in run.admin.entries if not (e.invocation_id == inv and e.index >= 4)]
    assert StepCompleted("route").fired(run, 0.0)
    assert not StepCompleted("ask BillingAgent").fired(run, 0.0)
    run.admin.entries = [e for e in run.admin.entries if e.index < 2]  # route's command only
    assert not StepCompleted("route").fired(run, 0.0)


def test_step_completed_ignores_invocations_not_of_the_run() -> None:
    run = recorded_run(H.KILL_ROUTER)
    run.ids = ["inv_of_another_run"]
    assert not StepCompleted("route").fired(run, 0.0)


def test_retry_observed_waits_for_a_second_attempt() -> None:
    row = Invocation("inv_1", "running", "AgentRouter/answer", retry_count=1)
    run = FakeRun(admin=FakeAdmin([row]), ids=["inv_1"])
    assert not RetryObserved().fired(run, 0.0)  # retry_count counts attempts: 1 is the first
    run.admin.rows = [replace(row, status="backing-off", retry_count=2)]
    assert RetryObserved().fired(run, 0.0)
    run.ids = []  # another run's retries do not count
    assert not RetryObserved().fired(run, 0.0)
    assert RetryObserved().describe() == "Restate has scheduled a retry"


def test_retry_observed_on_a_recorded_run_s_rows() -> None:
    # Completed rows no longer carry their retry count: the recorded rows show none.
    assert not RetryObserved().fired(recorded_run(H.KILL_ROUTER), 0.0)


def test_step_completed_sees_a_step_of_a_callee() -> None:
    run = recorded_run(H.KILL_REMOTE)  # 'issue refund' is a step of BillingAgent/run, the router's callee
    assert StepCompleted("route").fired(run, 0.0)
    assert StepCompleted("issue refund").fired(run, 0.0)


def test_retry_observed_sees_a_callee_being_retried() -> None:
    # As sampled in the kill-remote-agent run: the router suspended, its billing callee retried.
    parent = Invocation("inv_parent", "suspended", "RemoteAgentRouter/answer", retry_count=0)
    callee = Invocation("inv_callee", "backing-off", "BillingAgent/run", retry_count=3, invoked_by_id="inv_parent")
    assert RetryObserved().fired(FakeRun(admin=FakeAdmin([parent, callee]), ids=["inv_parent"]), 0.0)


def test_steps_completed_counts_the_steps_of_the_whole_call_tree() -> None:
    run = recorded_run(H.KILL_REMOTE)  # route in the router; refund and answer in the billing agent
    assert [StepsCompleted(n).fired(run, 0.0) for n in (1, 3, 4)] == [True, True, False]


# --- waiting -------------------------------------------------------------------------------


def test_wait_for_returns_when_the_condition_holds() -> None:
    run = FakeRun(llm=FakeLLM([llm_call(1, held=True)]))
    wait_for(LLMCallHeld(1), run, timeout_s=0)


def test_wait_for_raises_when_the_condition_never_holds() -> None:
    with pytest.raises(TriggerTimeout, match=r"^trigger never fired within 0s: LLM call 3 is held$"):
        wait_for(LLMCallHeld(3), FakeRun(), timeout_s=0)

"""A run in progress, step by step: send a workload, inject faults, then check. This is the
imperative face of a scenario: the pytest fixtures hand it to users, and ``run_scenario``
is a ``LiveRun`` driven by a ``Scenario``'s parts. It orchestrates: the observer gathers
the history, and the judge judges it.

    run = LiveRun(env)
    run.send(Requests("AgentRouter", "answer", "I was charged twice {token}"))
    run.inject(Kill("router", when=LLMCallHeld(2)))
    result = run.check(AllCompleted(), NoDuplicateLLMCalls(), name="my-scenario")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from harness.checker.check import Check
from harness.checker.judge import RunInfo, judge
from harness.context import Link, Process, Progress, Tools
from harness.env.environment import Environment
from harness.env.restate.admin import RestateAdmin
from harness.errors import HarnessError
from harness.fake_llm import FakeLLM
from harness.history import FaultRecord, History, Invocation, LeaderChange, Request
from harness.nemesis.faults import Fault
from harness.nemesis.triggers import TriggerTimeout, wait_for
from harness.results.schema import ScenarioResult
from harness.runner.observer import Observer
from harness.timing import Phases
from harness.workload import Requests

# Called with each result as ``check`` produces it (the pytest plugin records them).
OnResult = Callable[[ScenarioResult], None]


class LiveRun:
    """An environment with a run in progress; it is the ``RunContext`` faults and triggers
    see. Errors of the run itself (a trigger that never fired, an ingress that never
    accepted) are kept and make the verdict ``unknown``."""

    def __init__(
        self,
        env: Environment,
        *,
        trigger_timeout_s: float = 20.0,
        on_progress: Progress | None = None,
        on_result: OnResult | None = None,
    ) -> None:
        self.env = env
        self.trigger_timeout_s = trigger_timeout_s
        self.errors: list[str] = []
        self.requests: list[Request] = []
        self.faults: list[FaultRecord] = []
        self._started_at = time.time()
        self._on_progress = on_progress
        self._on_result = on_result
        self._observer = Observer(env)
        self._senders: list[_Sender] = []
        self._watcher: _Watcher | None = None
        self._leaders: _LeaderWatcher | None = None
        self._planned: list[Fault] = []
        self._in_force: list[tuple[Fault, FaultRecord]] = []  # applied, not yet undone
        self._begun = False
        self.history: History | None = None  # once observed
        self.phases = Phases()  # where the run's time went

    # --- RunContext ----------------------------------------------------------------------

    @property
    def started_at(self) -> float:
        return self._started_at

    @property
    def llm(self) -> FakeLLM:
        return self.env.llm

    @property
    def admin(self) -> RestateAdmin:
        return self.env.admin

    def invocation_ids(self) -> list[str]:
        return [r.invocation_id for r in self.requests]

    def leadership(self) -> list[LeaderChange]:
        """A cluster's leaders as sampled so far (empty on a single server)."""
        return list(self._observer.leadership)

    def process(self, name: str) -> Process:
        return self.env.process(name)

    def link(self, name: str) -> Link:
        return self.env.link(name)

    def stub(self, name: str) -> Tools:
        return self.env.stub(name)

    # --- the run ---------------------------------------------------------------------------

    def report_progress(self, **counts: int) -> None:
        """Tell whoever watches (the CLI's progress bars) how far the run is."""
        if self._on_progress is not None:
            self._on_progress(counts)

    def _begin(self) -> None:
        """The run's time zero, which results are relative to: the first fault applied or the
        first request sent, whichever comes first."""
        if not self._begun:
            self._begun = True
            self._started_at = time.time()
            if self._observer.watches_leaders:
                self._leaders = _LeaderWatcher(self._observer)
                self._leaders.start()

    def send(self, workload: Requests) -> None:
        """Start sending ``workload`` in the background (faults can fire meanwhile)."""
        self._begin()
        sender = _Sender(workload, self)
        self._senders.append(sender)
        sender.start()
        if self._watcher is None:
            self._watcher = _Watcher(self._observer, self.invocation_ids)
            self._watcher.start()

    def apply_now(self, *faults: Fault) -> None:
        """Apply ``faults`` at once, whatever their ``when`` trigger says (before ``send``, so
        the first request meets them); they are undone on their own ``until`` triggers once
        ``inject`` runs (or at the end of the run)."""
        self._begin()
        for fault in faults:
            self._planned.append(fault)
            try:
                self._apply(fault)
            except HarnessError as exc:
                self.errors.append(str(exc))
                return

    def inject(self, *faults: Fault) -> None:
        """Undo the faults applied at once (``apply_now``) on their triggers, then play ``faults`` one after another: each
        waits for its trigger, is applied, and (unless it lasts to the end of the run) waits
        for its ``until`` trigger and is undone."""
        try:
            with self.phases.measure("faults"):
                for fault, record in list(self._in_force):
                    self._undo_when_due(fault, record)
                for fault in faults:
                    self._planned.append(fault)
                    wait_for(fault.when, self, self.trigger_timeout_s)
                    self._undo_when_due(fault, self._apply(fault))
        except (TriggerTimeout, HarnessError) as exc:
            self.errors.append(str(exc))

    def observe(self, deadline_s: float = 60.0, *, stop_when: Callable[[list[Invocation]], bool] | None = None) -> History:
        """Wait for every request to finish (or the deadline, or ``stop_when`` holds for the
        requests' rows), undo what is still in force, and gather the history."""
        try:
            with self.phases.measure("workload"):
                for sender in self._senders:
                    sender.join()
            if self._watcher is not None:
                self._watcher.stop()
            with self.phases.measure("completion"):
                self._observer.wait_for_invocations(self.invocation_ids(), deadline_s, self._on_progress, stop_when)
        except HarnessError as exc:
            self.errors.append(str(exc))
        finally:
            if self._watcher is not None:
                self._watcher.stop()
            self.llm.release_all()
            self._undo_everything()
            for sender in self._senders:
                threading.Thread.join(sender, 30)  # after an error: let it finish quietly
            if self._leaders is not None:  # after the heal: who leads once it settled is part of the record
                self._leaders.stop()
        with self.phases.measure("observation"):
            self.history = self._observer.gather(self.requests, self.faults, self._started_at, len(self._planned))
        return self.history

    def check(
        self,
        *checks: Check,
        name: str = "scenario",
        agent: str = "",
        description: str = "",
        tags: Sequence[str] = (),
        expect_failure: bool = False,
        deadline_s: float = 60.0,
    ) -> ScenarioResult:
        """Observe and judge: the verdict and figures of this run."""
        history = self.observe(deadline_s)
        info = RunInfo(name, agent, description, tuple(tags), tuple(checks), expect_failure)
        with self.phases.measure("judging"):
            result = ScenarioResult.from_judgement(judge(info, history, self.errors))
        if self._on_result is not None:
            self._on_result(result)
        return result

    # --- faults ----------------------------------------------------------------------------

    def _apply(self, fault: Fault) -> FaultRecord:
        record = FaultRecord(fault.kind, fault.target, time.time())
        self.faults.append(record)
        self._in_force.append((fault, record))
        record.detail = fault.apply(self)
        self.report_progress(faults=len(self.faults))
        # A held LLM answer is released once the fault is in place, so it meets the fault:
        # it goes to a dead process, a paused one, or an agent that cannot journal it.
        self.llm.release_all()
        return record

    def _undo(self, fault: Fault, record: FaultRecord) -> None:
        # Undone when the undo begins: a restart's start-up time is part of recovery.
        record.undone_at = time.time()
        self._in_force.remove((fault, record))
        fault.undo(self, record.detail)
        if self._observer.watches_leaders:  # on a cluster an undo waits for leadership to settle: the window with it
            record.settled_at = time.time()

    def _undo_when_due(self, fault: Fault, record: FaultRecord) -> None:
        """Wait for the fault's ``until`` trigger and undo it; ``until=None`` lasts to the end."""
        if fault.until is None:
            return
        wait_for(fault.until, self, self.trigger_timeout_s)
        self._undo(fault, record)

    def _undo_everything(self) -> None:
        """Undo faults still in force (by design, or because a trigger timed out) before
        gathering the history."""
        for fault, record in list(self._in_force):
            try:
                self._undo(fault, record)
            except HarnessError as exc:
                self.errors.append(f"undoing {fault.kind} on {fault.target} failed: {exc}")


class _Watcher(threading.Thread):
    """Samples the requests' invocations while the nemesis plays, before ``observe`` waits
    for them: an attempt that failed during a fault window, and retry counts that an
    invocation finished before the faults healed, would otherwise never be seen."""

    def __init__(self, observer: Observer, ids: Callable[[], list[str]], period_s: float = 0.1) -> None:
        super().__init__(name="watcher", daemon=True)
        self.observer, self.ids, self.period_s, self._stopping = observer, ids, period_s, threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            polled = time.monotonic()
            try:
                self.observer.sample(self.ids())
            except Exception:  # restate-server killed or cut off by a fault: look again later
                pass
            # A slow poll (a soak's thousand rows) is not repeated at once: the server comes first.
            self._stopping.wait(max(self.period_s, 3 * (time.monotonic() - polled)))

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)


class _LeaderWatcher(threading.Thread):
    """Samples a cluster's partition leaders from the run's start until it is observed: the
    leader before a fault, each change inside its window, and the leader after the heal."""

    def __init__(self, observer: Observer, period_s: float = 0.5) -> None:
        super().__init__(name="leaders", daemon=True)
        self.observer, self.period_s, self._stopping = observer, period_s, threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.observer.sample_leaders()
            except Exception:  # every node down or cut off for a moment: look again
                pass
            self._stopping.wait(self.period_s)

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)
        try:
            self.observer.sample_leaders()  # the last word: who leads now
        except Exception:
            pass


class _Sender(threading.Thread):
    """Sends the workload while the nemesis plays faults; keeps the first error."""

    def __init__(self, workload: Requests, run: LiveRun) -> None:
        super().__init__(name="workload", daemon=True)
        self.workload, self.run_, self.error = workload, run, None  # type: ignore[var-annotated]

    def run(self) -> None:
        try:
            self.workload.send(self.run_.env.ingress, into=self.run_.requests, on_sent=lambda n: self.run_.report_progress(sent=n))
        except Exception as exc:  # reported by join()
            self.error = exc

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if isinstance(self.error, HarnessError):
            raise self.error
        if self.error is not None:
            raise HarnessError(f"sending the workload failed: {self.error!r}")


__all__ = ["LiveRun", "OnResult"]

"""A run in progress, step by step: send a workload, inject faults, then check. This is
the imperative face of a scenario: the pytest fixtures hand it to users, and
``run_scenario`` is a ``LiveRun`` driven by a ``Scenario``'s parts.

    run = LiveRun(env)
    run.send(Requests("AgentRouter", "answer", "I was charged twice {token}"))
    run.inject(Kill("router", when=LLMCallHeld(2)))
    result = run.check(AllCompleted(), NoDuplicateLLMCalls(), name="my-scenario")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .checks import Check
from .classify import ClassifiedCall, classify_observed
from .environment import Environment
from .errors import HarnessError
from .fake_llm import FakeLLM
from .faults import Fault, FaultRecord
from .observation import Observation
from .results import RunInfo, ScenarioResult, judge
from .stubs import refunds
from .triggers import TriggerTimeout
from .workload import Requests, WorkloadRecord

# Called with counts such as {"sent": 3}, {"faults": 1} or {"completed": 2}.
Progress = Callable[[dict[str, int]], None]


@dataclass
class RunContext:
    """What faults and triggers can see while a scenario runs."""

    env: Environment
    workload: WorkloadRecord
    started_at: float
    faults: list[FaultRecord] = field(default_factory=list)
    max_retry_count: dict[str, int] = field(default_factory=dict)
    statuses_seen: dict[str, set[str]] = field(default_factory=dict)
    failures_seen: dict[str, set[str]] = field(default_factory=dict)
    on_progress: "Progress | None" = None

    def report(self, **counts: int) -> None:
        """Tell whoever watches (the CLI's progress bars) how far the run is."""
        if self.on_progress is not None:
            self.on_progress(counts)


class LiveRun:
    """An environment with a run in progress. Errors of the run itself (a trigger that never
    fired, an ingress that never accepted) are kept and make the verdict ``unknown``."""

    def __init__(self, env: Environment, *, trigger_timeout_s: float = 20.0, on_progress: Progress | None = None) -> None:
        self.env = env
        self.ctx = RunContext(env, WorkloadRecord(), time.time(), on_progress=on_progress)
        self.trigger_timeout_s = trigger_timeout_s
        self.errors: list[str] = []
        self._senders: list[_Sender] = []
        self._faults: list[Fault] = []
        self._armed: list[tuple[Fault, FaultRecord]] = []
        self._begun = False

    @property
    def llm(self) -> FakeLLM:
        return self.env.llm

    def _begin(self) -> None:
        """The run's time zero, which results are relative to: the first fault armed or the
        first request sent, whichever comes first."""
        if not self._begun:
            self._begun = True
            self.ctx.started_at = time.time()

    def send(self, workload: Requests) -> None:
        """Start sending ``workload`` in the background (faults can fire meanwhile)."""
        self._begin()
        sender = _Sender(workload, self.ctx)
        self._senders.append(sender)
        sender.start()

    def arm(self, *faults: Fault) -> None:
        """Start ``faults`` now, before ``send``, so the first request meets them; they heal
        on their own triggers once ``inject`` runs (or at the end of the run)."""
        self._begin()
        for fault in faults:
            self._faults.append(fault)
            try:
                self._armed.append((fault, _start(fault, self.ctx)))
            except HarnessError as exc:
                self.errors.append(str(exc))
                return

    def inject(self, *faults: Fault) -> None:
        """Heal armed faults on their triggers, then play ``faults`` one after another: each
        waits for its trigger, starts, and (unless it lasts to the end of the run) waits for
        its healing trigger and heals."""
        try:
            for fault, record in self._armed:
                _heal(fault, record, self.ctx, self.trigger_timeout_s)
            self._armed.clear()
            for fault in faults:
                self._faults.append(fault)
                fault.when.wait(self.ctx, self.trigger_timeout_s)
                _heal(fault, _start(fault, self.ctx), self.ctx, self.trigger_timeout_s)
        except (TriggerTimeout, HarnessError) as exc:
            self.errors.append(str(exc))

    def observe(self, deadline_s: float = 60.0) -> Observation:
        """Wait for every request to finish (or the deadline), heal what is still open, and
        gather the ledgers and Restate's rows."""
        try:
            for sender in self._senders:
                sender.join()
            _wait_for_invocations(self.ctx, deadline_s)
        except HarnessError as exc:
            self.errors.append(str(exc))
        finally:
            self.llm.release_all()
            self._heal_everything()
            for sender in self._senders:
                threading.Thread.join(sender, 30)  # after an error: let it finish quietly
        return _observe(self.ctx)

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
        obs = self.observe(deadline_s)
        info = RunInfo(name, agent, description, tuple(tags), tuple(checks), expect_failure, len(self._faults))
        return judge(info, obs, classify_observation(obs), self.errors)

    def _heal_everything(self) -> None:
        """Heal faults left open (by design, or because a trigger timed out) before observing."""
        for fault, record in zip(self._faults, self.ctx.faults):
            if record.healed_at is None:
                record.healed_at = time.time()
                try:
                    fault.stop(self.ctx)
                except HarnessError as exc:
                    self.errors.append(f"healing {fault.kind} on {fault.target} failed: {exc}")


def classify_observation(obs: Observation | None) -> list[ClassifiedCall]:
    """Every LLM call and side effect of the run, classified."""
    return classify_observed(obs) if obs is not None else []


def describe(fault: Fault) -> str:
    """One line for a fault and its schedule, e.g. for results and reproduction."""
    heal = fault.heal.describe() if fault.heal is not None else "the end of the run"
    return f"{fault.kind} {fault.target} when {fault.when.describe()}, healed {heal}"


def _start(fault: Fault, ctx: RunContext) -> FaultRecord:
    record = FaultRecord(fault.kind, fault.target, time.time())
    ctx.faults.append(record)
    record.detail = fault.start(ctx)
    ctx.report(faults=len(ctx.faults))
    # A held LLM answer is released once the fault is in place, so it meets the fault:
    # it goes to a dead process, a paused one, or an agent that cannot journal it.
    ctx.env.llm.release_all()
    return record


def _heal(fault: Fault, record: FaultRecord, ctx: RunContext, trigger_timeout_s: float) -> None:
    """Wait for the fault's healing trigger and heal it; ``heal=None`` lasts to the end."""
    if fault.heal is None:
        return
    fault.heal.wait(ctx, trigger_timeout_s)
    # Healed when the healing action begins: a restart's start-up time is part of recovery.
    record.healed_at = time.time()
    fault.stop(ctx)


class _Sender(threading.Thread):
    """Sends the workload while the nemesis plays faults; keeps the first error."""

    def __init__(self, workload: Requests, ctx: RunContext) -> None:
        super().__init__(name="workload", daemon=True)
        self.workload, self.ctx, self.error = workload, ctx, None  # type: ignore[var-annotated]

    def run(self) -> None:
        try:
            self.workload.send(
                self.ctx.env.ingress, into=self.ctx.workload.requests, on_sent=lambda n: self.ctx.report(sent=n)
            )
        except Exception as exc:  # reported by join()
            self.error = exc

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if isinstance(self.error, HarnessError):
            raise self.error
        if self.error is not None:
            raise HarnessError(f"sending the workload failed: {self.error!r}")


def _wait_for_invocations(ctx: RunContext, deadline_s: float) -> None:
    ids = ctx.workload.invocation_ids
    deadline = time.monotonic() + deadline_s
    while True:
        rows = ctx.env.admin.invocations(ids)
        # Callees retry on their own (a remote agent's fault): sample their retries too.
        for row in rows + ctx.env.admin.callees(ids):
            count = int(row.get("retry_count") or 0)
            ctx.max_retry_count[row["id"]] = max(ctx.max_retry_count.get(row["id"], 0), count)
            ctx.statuses_seen.setdefault(row["id"], set()).add(row.get("status", "?"))
            if failure := row.get("last_failure"):
                code = row.get("last_failure_error_code", "")
                ctx.failures_seen.setdefault(row["id"], set()).add(f"{code}: {failure[:300]}")
        ctx.report(completed=sum(1 for r in rows if r.get("status") == "completed"))
        if len(rows) == len(ids) and all(r.get("status") == "completed" for r in rows):
            return
        if time.monotonic() > deadline:
            stuck = [f"{r['id']} ({r.get('status')}, {r.get('last_failure', '')[:120]})" for r in rows if r.get("status") != "completed"]
            raise HarnessError(f"invocations not done after {deadline_s:.0f}s: {', '.join(stuck)}")
        time.sleep(0.1)


def _observe(ctx: RunContext) -> Observation:
    roots = ctx.workload.invocation_ids
    env = ctx.env
    rows = env.admin.invocations(roots)
    callees = env.admin.callees(roots)
    while callees:  # call trees of any depth
        rows += callees
        callees = env.admin.callees([r["id"] for r in callees])
    ids = [r["id"] for r in rows]
    return Observation(
        requests=ctx.workload.requests,
        calls=list(env.llm.calls),
        invocation_rows=rows,
        journal_rows=env.admin.journal(ids),
        outputs=env.admin.outputs(ids),  # one query for the whole batch, however large
        faults=ctx.faults,
        started_at=ctx.started_at,
        max_retry_count=dict(ctx.max_retry_count),
        statuses_seen={k: sorted(v) for k, v in ctx.statuses_seen.items()},
        failures_seen={k: sorted(v) for k, v in ctx.failures_seen.items()},
        keyed_invocation_rows=env.admin.by_idempotency_key([r.idempotency_key for r in ctx.workload.requests]),
        side_effect_calls=refunds.ledger(f"http://127.0.0.1:{env.refunds_port}") if env.refunds_port else [],
    )

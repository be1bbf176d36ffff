"""Triggers: observable conditions that fire a fault at a deterministic point of a run,
instead of a guessed sleep. A trigger is a condition (``fired``) on the live run; the
runner waits for it with ``wait_for``, which raises ``TriggerTimeout`` if it never fires
(the verdict is then "unknown": the fault was never applied)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, Protocol

from harness.context import RunContext
from harness.errors import HarnessError
from harness.history import steps_of


class TriggerTimeout(HarnessError):
    """The condition never held, so the fault never fired."""


class Trigger(Protocol):
    """``fired(run, since)``: has the condition held, for a trigger armed at ``since``
    (epoch seconds)? ``poll_s`` is how often it is worth asking."""

    poll_s: ClassVar[float]

    def fired(self, run: RunContext, since: float) -> bool: ...

    def describe(self) -> str: ...


def wait_for(trigger: Trigger, run: RunContext, timeout_s: float) -> None:
    """Block until ``trigger`` fires, armed now; ``TriggerTimeout`` after ``timeout_s``."""
    since = time.time()
    deadline = time.monotonic() + timeout_s
    while not trigger.fired(run, since):
        if time.monotonic() >= deadline:
            raise TriggerTimeout(f"trigger never fired within {timeout_s:.0f}s: {trigger.describe()}")
        time.sleep(trigger.poll_s)


@dataclass(frozen=True)
class After:
    """A plain delay after the trigger is armed: for fault windows ("undone after 0.5 s"),
    not to guess timing."""

    seconds: float
    poll_s: ClassVar[float] = 0.005

    def fired(self, run: RunContext, since: float) -> bool:
        return time.time() >= since + self.seconds

    def describe(self) -> str:
        return f"after {self.seconds:g}s"


@dataclass(frozen=True)
class At:
    """``seconds`` after the run's time zero: the trigger of a scheduled fault window."""

    seconds: float
    poll_s: ClassVar[float] = 0.005

    def fired(self, run: RunContext, since: float) -> bool:
        return time.time() >= run.started_at + self.seconds

    def describe(self) -> str:
        return f"at {self.seconds:.2f}s"


@dataclass(frozen=True)
class AtStart:
    """Before the workload starts: the fault is applied first, so the very first request meets
    it (a fault applied "after 0 s" would race the workload's first send)."""

    poll_s: ClassVar[float] = 0.0

    def fired(self, run: RunContext, since: float) -> bool:
        return True

    def describe(self) -> str:
        return "before the workload starts"


@dataclass(frozen=True)
class LLMCallHeld:
    """The fake LLM has received call ``n`` (1-based, across the run) and holds its response."""

    n: int
    poll_s: ClassVar[float] = 0.02

    def fired(self, run: RunContext, since: float) -> bool:
        calls = run.llm.calls
        return len(calls) >= self.n and calls[self.n - 1].held

    def describe(self) -> str:
        return f"LLM call {self.n} is held"


@dataclass(frozen=True)
class LLMCallsArrived:
    """The fake LLM has received at least ``n`` calls (across the run): a fault aimed at
    call ``n`` has had its turn, so it can heal."""

    n: int
    poll_s: ClassVar[float] = 0.02

    def fired(self, run: RunContext, since: float) -> bool:
        return len(run.llm.calls) >= self.n

    def describe(self) -> str:
        return f"LLM call {self.n} has arrived"


@dataclass(frozen=True)
class ToolCallHeld:
    """The tool service ``stub`` has received tool call ``n`` (1-based, across the run) and holds it."""

    stub: str
    n: int
    poll_s: ClassVar[float] = 0.02

    def fired(self, run: RunContext, since: float) -> bool:
        calls = run.stub(self.stub).ledger()
        return len(calls) >= self.n and calls[self.n - 1].held

    def describe(self) -> str:
        return f"{self.stub} call {self.n} is held"


@dataclass(frozen=True)
class ToolCallsArrived:
    """The tool service ``stub`` has received at least ``n`` tool calls: a fault aimed at call
    ``n`` has had its turn, so it can heal."""

    stub: str
    n: int
    poll_s: ClassVar[float] = 0.02

    def fired(self, run: RunContext, since: float) -> bool:
        return len(run.stub(self.stub).ledger()) >= self.n

    def describe(self) -> str:
        return f"{self.stub} call {self.n} has arrived"


@dataclass(frozen=True)
class StepCompleted:
    """``sys_journal`` shows the step named ``name`` completed (its result journaled)."""

    name: str
    poll_s: ClassVar[float] = 0.02

    def fired(self, run: RunContext, since: float) -> bool:
        tree = [inv.id for inv in run.admin.call_tree(run.invocation_ids())]  # callees' steps count too
        return any(step.name == self.name and step.completed for step in steps_of(run.admin.journal(tree)))

    def describe(self) -> str:
        return f"step {self.name!r} is journaled as completed"


@dataclass(frozen=True)
class StepsCompleted:
    """``sys_journal`` shows at least ``n`` journaled steps completed, across the run's
    invocations: "right after the n-th step", whatever the steps are called."""

    n: int
    poll_s: ClassVar[float] = 0.01

    def fired(self, run: RunContext, since: float) -> bool:
        tree = [inv.id for inv in run.admin.call_tree(run.invocation_ids())]  # callees' steps count too
        return sum(1 for step in steps_of(run.admin.journal(tree)) if step.completed) >= self.n

    def describe(self) -> str:
        return f"{self.n} step(s) are journaled as completed"


@dataclass(frozen=True)
class RetryObserved:
    """Restate has given up on an attempt and started or scheduled another
    (``retry_count``, which counts attempts, is 2 or more): used to hold a pause until the
    server has noticed it."""

    poll_s: ClassVar[float] = 0.1

    def fired(self, run: RunContext, since: float) -> bool:
        # A callee retries on its own while its caller waits: the whole tree counts.
        return any(inv.retry_count >= 2 for inv in run.admin.call_tree(run.invocation_ids()))

    def describe(self) -> str:
        return "Restate has scheduled a retry"


@dataclass(frozen=True)
class LeaderReplaced:
    """A partition's leader was replaced (another node leads at a higher epoch than any
    seen before the trigger was armed) ``then_s`` ago, or ``at_most_s`` passed: ends a
    partition soon after its failover instead of at a fixed time that must outlast the
    slowest one. Reads the run's sampled leadership (a cluster's)."""

    then_s: float = 2.0
    at_most_s: float = 15.0
    poll_s: ClassVar[float] = 0.1

    def fired(self, run: RunContext, since: float) -> bool:
        now = time.time()
        if now >= since + self.at_most_s:
            return True
        changes = run.leadership()
        known = {c.partition_id: c.epoch for c in changes if c.at <= since}
        return any(c.at > since and c.partition_id in known and c.epoch > known[c.partition_id]
                   and now >= c.at + self.then_s for c in changes)

    def describe(self) -> str:
        return f"{self.then_s:g}s after a new leader (at most {self.at_most_s:g}s)"


@dataclass(frozen=True)
class AllOf:
    """Every one of ``triggers`` has fired: e.g. "step 1 is journaled and the next LLM call
    is held", so that a kill right after a step lands before the request can finish, and
    never before the held call arrives (a hold still waiting would catch a later call)."""

    triggers: tuple[Trigger, ...]

    @property
    def poll_s(self) -> float:  # type: ignore[override]
        return min((t.poll_s for t in self.triggers), default=0.01)

    def fired(self, run: RunContext, since: float) -> bool:
        return all(t.fired(run, since) for t in self.triggers)

    def describe(self) -> str:
        return " and ".join(t.describe() for t in self.triggers)

"""Triggers: observable conditions that fire a fault at a deterministic point of a run,
instead of a guessed sleep. A trigger blocks until its condition holds, or raises
``TriggerTimeout`` (then the scenario's verdict is "unknown": the fault never fired)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .errors import HarnessError
from .journal import run_steps

if TYPE_CHECKING:
    from .live import RunContext


class TriggerTimeout(HarnessError):
    """The condition never held, so the fault never fired."""


class Trigger(Protocol):
    def wait(self, run: "RunContext", timeout_s: float) -> None: ...

    def describe(self) -> str: ...


def _poll(condition, what: str, timeout_s: float, interval_s: float = 0.02) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval_s)
    raise TriggerTimeout(f"trigger never fired within {timeout_s:.0f}s: {what}")


@dataclass(frozen=True)
class After:
    """A plain delay: used for fault windows ("heal after 0.5 s"), not to guess timing."""

    seconds: float

    def wait(self, run: "RunContext", timeout_s: float) -> None:
        time.sleep(self.seconds)

    def describe(self) -> str:
        return f"after {self.seconds:g}s"


@dataclass(frozen=True)
class AtStart:
    """Before the workload starts: the fault is armed first, so the very first request meets
    it (a fault started "after 0 s" would race the workload's first send)."""

    def wait(self, run: "RunContext", timeout_s: float) -> None:
        return None

    def describe(self) -> str:
        return "before the workload starts"


@dataclass(frozen=True)
class LLMCallHeld:
    """The fake LLM has received call ``n`` (1-based, across the run) and holds its response."""

    n: int

    def wait(self, run: "RunContext", timeout_s: float) -> None:
        try:
            run.env.llm.wait_for_call(self.n, held=True, timeout=timeout_s)
        except TimeoutError as exc:
            raise TriggerTimeout(str(exc)) from None

    def describe(self) -> str:
        return f"LLM call {self.n} is held"


@dataclass(frozen=True)
class RunCompleted:
    """``sys_journal`` shows the Run step named ``name`` completed (its result journaled)."""

    name: str

    def wait(self, run: "RunContext", timeout_s: float) -> None:
        def done() -> bool:
            journal = run.env.admin.journal(run.workload.invocation_ids)
            return any(step.name == self.name and step.completed for step in run_steps(journal))

        _poll(done, self.describe(), timeout_s)

    def describe(self) -> str:
        return f"Run {self.name!r} is journaled as completed"


@dataclass(frozen=True)
class RetryObserved:
    """Restate has given up on an attempt and started or scheduled another
    (``retry_count``, which counts attempts, is 2 or more):
    used to hold a pause until the server has noticed it."""

    def wait(self, run: "RunContext", timeout_s: float) -> None:
        def retried() -> bool:
            rows = run.env.admin.invocations(run.workload.invocation_ids)
            return any(int(r.get("retry_count", 0)) >= 2 for r in rows)

        _poll(retried, self.describe(), timeout_s, interval_s=0.1)

    def describe(self) -> str:
        return "Restate has scheduled a retry"


"""The fault type every nemesis fault satisfies, and its one-line description."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from harness.context import RunContext
from harness.nemesis.triggers import Trigger


class Fault(Protocol):
    """``apply`` does the damage and returns what the record keeps (and ``undo`` needs);
    ``undo`` restores the target. ``until=None`` keeps a fault to the end of the run."""

    kind: ClassVar[str]
    target: str
    when: Trigger
    until: Trigger | None

    def apply(self, run: RunContext) -> dict[str, Any]: ...

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None: ...


def describe(fault: Fault) -> str:
    """One line for a fault and its schedule, e.g. for results and reproduction."""
    until = fault.until.describe() if fault.until is not None else "the end of the run"
    return f"{fault.kind} {fault.target} when {fault.when.describe()}, undone {until}"

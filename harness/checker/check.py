"""The one check type: a small value that reads a run's history and returns one
``CheckResult``, carrying the bug class it judges and its severity (a **finding** fails the
run; an **advisory** is reported with its figures and a fix). Apart from the checks
themselves (``checks``, ``liveness``, ``retries``, ``poisoned``), so each of those modules
can build on it and on one another without a cycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from harness.checker.classify import ClassifiedCall
from harness.history import History

Severity = Literal["finding", "advisory"]

@dataclass(frozen=True)
class CheckResult:
    """What one check found. ``exercised`` is False when the run gave it nothing to judge
    (no side effect to repeat, no hang to end): it neither passed nor failed. ``advice`` is
    the fix when the check did not hold: an advisory's, with figures, or a finding's where it
    depends on what the check saw (the class's general fix otherwise)."""

    check: str
    ok: bool
    message: str
    bug_class: str | None = None
    severity: Severity = "finding"
    exercised: bool = True
    advice: str = ""

    @property
    def failed(self) -> bool:
        """A finding that did not hold: it fails the run."""
        return not self.ok and self.severity == "finding"


@dataclass(frozen=True)
class Check:
    """The one check type. Subclasses set ``name`` and ``bug_class`` and implement
    ``evaluate``; ``severity`` may be chosen per instance (a figure that is a finding above
    one bound can be an advisory above a lower one)."""

    name: ClassVar[str] = "check"
    bug_class: ClassVar[str | None] = None
    severity: Severity = field(default="finding", kw_only=True)

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        """``calls``: every LLM call and side effect of the run, classified."""
        raise NotImplementedError

    def result(self, ok: bool, message: str, *, exercised: bool = True, advice: str = "") -> CheckResult:
        return CheckResult(self.name, ok, message, self.bug_class, self.severity, exercised, advice)

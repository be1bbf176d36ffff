"""Shrinking a scenario: ``harness.nemesis.shrink`` applied to a scenario with a random
``schedule_strategy``. Each attempt is a real run, and it "fails" only if the finding that made the
original fail is there again (the same failed check; for duplicate calls, the same bug
class)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.nemesis.faults import describe
from harness.nemesis.shrink import Clock, Shrunk, StopShrinking, shrink
from harness.nemesis.strategies import Example, encode_choices
from harness.results.schema import ScenarioResult
from harness.runner.scenario import Scenario

# Findings that come from classifying calls, by bug class: which calls of the result they read.
_CALLS_OF = {"duplicate_llm_call": "calls", "duplicate_side_effect": "side_effect_calls"}


def repeat_kind(reason: str) -> str:
    """How a duplicate call was repeated, from the classifier's reason."""
    if "had already journaled" in reason:
        return "repeated after its step's result was journaled"
    if "had already answered" in reason:
        return "repeated outside ctx.run after its answer drove progress"
    return "duplicate"


@dataclass(frozen=True)
class FindingToKeep:
    """The finding a shrunk schedule must still produce: the same failed check (of the same
    bug class) and, for duplicate calls, repeated the same way."""

    check: str
    bug_class: str | None = None
    how: str | None = None
    message: str = ""

    @classmethod
    def of(cls, result: ScenarioResult) -> FindingToKeep | None:
        """The finding that made ``result`` fail: duplicate calls first (the bugs the
        harness is for), then the first failed check. Advisories never make a run fail."""
        failed = [f for f in result.findings if f.failed]
        failed.sort(key=lambda f: f.bug_class not in _CALLS_OF)
        for finding in failed:
            kinds = _kinds(result, finding.bug_class)
            return cls(finding.check, finding.bug_class, kinds[0] if kinds else None, finding.message)
        return None

    def found_in(self, result: ScenarioResult) -> bool:
        return any(
            f.failed and f.check == self.check and (self.how is None or self.how in _kinds(result, self.bug_class))
            for f in result.findings
        )

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "bug_class": self.bug_class, "how": self.how, "message": self.message}


def _kinds(result: ScenarioResult, bug_class: str | None) -> list[str]:
    if bug_class not in _CALLS_OF:
        return []
    calls = getattr(result, _CALLS_OF[bug_class], None) or []
    return list(dict.fromkeys(repeat_kind(c.reason) for c in calls if c.class_ == "duplicate"))


@dataclass
class ShrunkScenario:
    """A shrunk scenario: the minimal one, the run that showed it fails, and how it was found."""

    scenario: Scenario  # with ``choices`` set: its reproduce command replays them
    example: Example[Any]  # its plan and choices
    result: ScenarioResult  # the minimal scenario's failing run
    finding: FindingToKeep
    shrunk: Shrunk[Any]
    original: Scenario
    budget_s: float
    time_s: float  # searching and confirming
    confirmed: bool | None = None  # failed again when re-run (None: nothing smaller to confirm)
    confirm_runs: int = 0
    folder: Path | None = None  # where the minimal run's logs are
    verdicts: dict[str, int] = field(default_factory=dict)  # of every run, searching and confirming
    errors: list[str] = field(default_factory=list)  # of runs that could not be judged (the first few)
    stopped: str | None = None  # why the search ended early, if it did

    @property
    def choices(self) -> str:
        return encode_choices(self.example.choices)

    def to_json(self, reproduce: str) -> dict[str, Any]:
        """The ``shrunk`` field of a result."""
        return {
            "schedule": [describe(f) for f in self.scenario.faults],
            "requests": self.scenario.workload.n,
            "choices": self.choices,
            "reproduce": reproduce,
            "finding": {**self.finding.to_json(), "message": _message(self.result, self.finding.check)},
            "verdict": self.result.verdict,
            "original": {"faults": len(self.original.faults), "requests": self.original.workload.n},
            "attempts": self.shrunk.attempts,
            "improved": self.shrunk.improved,
            "confirmed": self.confirmed,
            "confirm_runs": self.confirm_runs,
            "time_s": round(self.time_s, 1),
            "budget_s": self.budget_s,
            "complete": self.shrunk.complete,
            "verdicts": self.verdicts,
            "errors": self.errors,
            "stopped": self.stopped,
            **({"folder": str(self.folder)} if self.folder is not None else {}),
        }


def _message(result: ScenarioResult, check: str) -> str:
    return next((f.message for f in result.findings if f.check == check and f.failed), "")


def shrink_scenario(
    scenario: Scenario,
    result: ScenarioResult,
    run: Callable[[Scenario, Path], ScenarioResult],
    out_dir: Path,
    *,
    budget_s: float = 180.0,
    confirm: int = 2,
    max_unjudged: int = 3,
    max_errors: int = 3,
    on_attempt: Callable[[int, Scenario, bool], None] | None = None,
    clock: Clock = time.monotonic,
) -> ShrunkScenario | None:
    """Shrink a failed run of a scenario with a random ``schedule_strategy``.
    ``run(scenario, folder)`` runs each candidate (in ``out_dir/attempt-N``; only the
    minimal run's folder is kept).

    Timing decides whether a fault meets a request in flight, so a schedule shrunk to the
    edge (a kill 50 ms after the answer it must follow) may not fail every time. The
    smallest failing schedule is therefore run once more (``confirm``: up to that many
    re-runs, stepping back to the previous smaller-than-original one when a re-run passes);
    one run's time is kept from the search for it. ``confirmed`` says whether a re-run
    failed. The search stops early after ``max_unjudged`` runs in a row end ``unknown``
    with an error (the environment is broken, not the agent); the first errors are kept.
    None when there is nothing to shrink: no strategy, no known choices, no failed check,
    or no budget."""
    strategy = getattr(scenario, "schedule_strategy", None)
    finding = FindingToKeep.of(result)
    if strategy is None or finding is None or budget_s <= 0:
        return None
    if scenario.choices is not None:
        choices: Sequence[int] = scenario.choices
    elif scenario.seed is not None:
        choices = strategy.generate(scenario.seed).choices
    else:
        return None
    started = clock()
    search = _Search(scenario, finding, run, out_dir, max_unjudged, max_errors, on_attempt)
    reserve = result.duration_s if confirm else 0.0
    shrunk = shrink(strategy, choices, search.fails, budget_s=max(0.0, budget_s - reserve),
                    estimate_s=result.duration_s, clock=clock)
    example, minimal, folder, confirmed = shrunk.example, result, None, None
    if search.accepted:
        (example, minimal, folder), confirmed = search.confirm(confirm)
    return ShrunkScenario(
        scenario.with_choices(example.choices), example, minimal, finding, shrunk, scenario, budget_s,
        clock() - started, confirmed, search.runs - shrunk.attempts, folder, search.verdicts, search.errors,
        search.stopped,
    )


@dataclass
class _Search:
    """The runs of one shrinking search: each candidate run for real, judged by whether
    ``finding`` is there again; the failing ones kept, each smaller than the one before."""

    scenario: Scenario
    finding: FindingToKeep
    run: Callable[[Scenario, Path], ScenarioResult]
    out_dir: Path
    max_unjudged: int
    max_errors: int
    on_attempt: Callable[[int, Scenario, bool], None] | None
    accepted: list[tuple[Example[Any], ScenarioResult, Path]] = field(default_factory=list)
    runs: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    unjudged: int = 0  # runs in a row that ended unknown with an error
    stopped: str | None = None

    def attempt(self, example: Example[Any], name: str) -> tuple[ScenarioResult, Path, bool]:
        self.runs += 1
        folder = self.out_dir / name
        candidate = self.scenario.with_choices(example.choices)
        outcome = self.run(candidate, folder)
        failed = self.finding.found_in(outcome)
        self.verdicts[outcome.verdict] = self.verdicts.get(outcome.verdict, 0) + 1
        self.unjudged = self.unjudged + 1 if outcome.verdict == "unknown" and outcome.errors else 0
        for error in outcome.errors[:1]:
            line = f"{name}: {error.splitlines()[0] if error else ''}"
            if len(self.errors) < self.max_errors and line not in self.errors:
                self.errors.append(line)
        if self.on_attempt is not None:
            self.on_attempt(self.runs, candidate, failed)
        return outcome, folder, failed

    def fails(self, example: Example[Any]) -> bool:
        """The shrinker's predicate: does this candidate fail with the same finding?"""
        outcome, folder, failed = self.attempt(example, f"attempt-{self.runs + 1:03d}")
        if self.unjudged >= self.max_unjudged:
            shutil.rmtree(folder, ignore_errors=True)
            self.stopped = f"{self.unjudged} runs in a row could not be judged (see errors)"
            raise StopShrinking(self.stopped)
        if failed:
            if self.accepted:  # superseded: only the latest run's folder is kept
                shutil.rmtree(self.accepted[-1][2], ignore_errors=True)
            self.accepted.append((example, outcome, folder))
        else:
            shutil.rmtree(folder, ignore_errors=True)
        return failed

    def confirm(self, confirm: int) -> tuple[tuple[Example[Any], ScenarioResult, Path], bool | None]:
        """Re-run the smallest failing candidate, stepping back to larger ones while a re-run
        passes (at most ``confirm`` re-runs): the one kept, and whether a re-run failed."""
        kept = self.accepted[-1]
        confirmed = False if self.stopped is None else None
        for tried, (candidate, _, _) in enumerate(reversed(self.accepted)):
            if tried >= confirm or self.stopped is not None:
                break
            outcome, again, failed = self.attempt(candidate, f"confirm-{tried + 1}")
            if not failed:
                shutil.rmtree(again, ignore_errors=True)
                continue
            if candidate is not self.accepted[-1][0]:  # stepped back to a larger one
                shutil.rmtree(self.accepted[-1][2], ignore_errors=True)
                kept = (candidate, outcome, again)
            else:
                shutil.rmtree(again, ignore_errors=True)
            return kept, True
        return kept, confirmed


__all__ = ["FindingToKeep", "ShrunkScenario", "repeat_kind", "shrink_scenario"]

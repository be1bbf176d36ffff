"""Shrinking: from a failing random schedule to a smaller one that fails the same way.

``shrink`` knows nothing of faults. It edits the choice stream the schedule was drawn from
(``harness.nemesis.strategies``) and replays it through the same strategy, keeping an edit
only if the result still fails and is smaller: fewer choices, or the same number with
smaller values (shortlex), which is what guarantees it ends. Its passes, repeated until
none helps or the time budget is spent:

1. delete blocks of sibling spans (elements of a list: faults), halving the block size
   (as delta debugging does): 6 faults with one culprit take about 5 runs;
2. lower each choice: to 0, else by bisection (fewer requests, shorter windows, earlier
   starts, the first fault kind or target);
3. delete any single span.

It never returns an example that was not seen failing: the original, or one that failed
when it was run.

``shrink_scenario`` applies it to a scenario with a random ``plan``: each attempt is a real
run, and it "fails" only if the finding that made the original fail is there again (the
same failed check; for duplicate calls, the same bug class).
"""

from __future__ import annotations

import shlex
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from harness.nemesis.faults import describe
from harness.nemesis.strategies import Example, Strategy, canonical, encode_choices

if TYPE_CHECKING:
    from harness.results.schema import ScenarioResult
    from harness.runner.scenario import Scenario

T = TypeVar("T")

Clock = Callable[[], float]


@dataclass(frozen=True)
class Shrunk(Generic[T]):
    """The smallest failing example found, and what finding it cost."""

    example: Example[T]
    original: Example[T]
    attempts: int  # runs of the predicate
    improved: int  # of which failed, each giving a smaller failing example
    elapsed_s: float
    complete: bool  # True: no pass makes it smaller; False: the budget ran out first


class _OutOfBudget(Exception):
    pass


class StopShrinking(Exception):
    """Raised by a predicate to end the search at once (e.g. the runs cannot be judged):
    the smallest failing example so far is kept."""


def sort_key(choices: Sequence[int]) -> tuple[int, tuple[int, ...]]:
    """Shortlex on the canonical stream: fewer choices first, then smaller values."""
    key = canonical(choices)
    return len(key), key


class _Shrinker(Generic[T]):
    def __init__(
        self,
        strategy: Strategy[T],
        choices: Sequence[int],
        fails: Callable[[Example[T]], bool],
        *,
        budget_s: float,
        estimate_s: float,
        max_attempts: int | None,
        clock: Clock,
        on_attempt: Callable[[int, Example[T], bool], None] | None,
    ) -> None:
        self.strategy, self.fails, self.clock = strategy, fails, clock
        self.budget_s, self.estimate_s, self.max_attempts = budget_s, estimate_s, max_attempts
        self.on_attempt = on_attempt
        self.original = self.best = strategy.replay(choices)
        self.seen: set[tuple[int, ...]] = {self.best.key}
        self.attempts = self.improved = 0
        self.durations: list[float] = []
        self.floors: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}  # see lower_choices
        self.started = clock()

    # --- trying a candidate ------------------------------------------------------------

    def _check_budget(self) -> None:
        elapsed = self.clock() - self.started
        expected = sum(self.durations) / len(self.durations) if self.durations else self.estimate_s
        if elapsed + expected > self.budget_s or (self.max_attempts is not None and self.attempts >= self.max_attempts):
            raise _OutOfBudget

    def consider(self, choices: Sequence[int]) -> bool:
        """Run the predicate on ``choices`` if they give a new, smaller example; keep it if it
        fails. Raises ``_OutOfBudget`` when no further run fits the budget."""
        example = self.strategy.replay(choices)
        key = example.key
        if key in self.seen or sort_key(key) >= sort_key(self.best.key):
            return False
        self._check_budget()
        self.seen.add(key)
        self.attempts += 1
        began = self.clock()
        failed = bool(self.fails(example))  # StopShrinking ends the search here
        self.durations.append(self.clock() - began)
        if failed:
            self.best = example
            self.improved += 1
        if self.on_attempt is not None:
            self.on_attempt(self.attempts, self.best, failed)
        return failed

    # --- the passes --------------------------------------------------------------------

    def run(self) -> Shrunk[T]:
        complete = False
        try:
            while True:
                before = self.best.key
                self.delete_siblings()
                self.lower_choices()
                self.delete_spans()
                if self.best.key == before:
                    complete = True
                    break
        except (_OutOfBudget, StopShrinking):
            pass
        return Shrunk(self.best, self.original, self.attempts, self.improved, round(self.clock() - self.started, 3), complete)

    def _groups(self) -> list[tuple[int, str]]:
        """Sibling groups of two or more spans, as (parent, label), largest first."""
        sizes: dict[tuple[int, str], int] = {}
        for span in self.best.spans:
            if span.end > span.start:
                sizes[(span.parent, span.label)] = sizes.get((span.parent, span.label), 0) + 1
        return sorted((g for g, n in sizes.items() if n >= 2), key=lambda g: -sizes[g])

    def _siblings(self, group: tuple[int, str]) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in self.best.spans if (s.parent, s.label) == group and s.end > s.start]

    def _without(self, ranges: Sequence[tuple[int, int]]) -> list[int]:
        drop = {i for start, end in ranges for i in range(start, end)}
        return [c for i, c in enumerate(self.best.choices) if i not in drop]

    def delete_siblings(self) -> None:
        """Delta debugging over each group of siblings: delete blocks of k, halving k."""
        for group in self._groups():
            siblings = self._siblings(group)
            k = max(1, len(siblings) // 2)
            while siblings:
                i = 0
                while i < len(siblings):
                    if self.consider(self._without(siblings[i : i + k])):
                        siblings = self._siblings(group)  # the group, after the deletion
                    else:
                        i += k
                if k == 1:
                    break
                k = max(1, k // 2)

    def lower_choices(self) -> None:
        """Each choice to 0, else bisect between 0 (passing) and its value (failing). The
        highest value known to pass, with the other choices as they are, is remembered, so
        a later round does not bisect the same range again."""
        for i in range(len(self.best.choices)):
            if i >= len(self.best.choices) or self.best.choices[i] == 0:
                continue
            others = (self.best.choices[:i], self.best.choices[i + 1 :])
            lo = self.floors.get(others, -1)
            if lo < 0:
                if self.consider(self._with(i, 0)):
                    continue
                lo = 0
            hi = self.best.choices[i]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if self.consider(self._with(i, mid)):
                    hi = mid
                else:
                    lo = mid
            self.floors[(self.best.choices[:i], self.best.choices[i + 1 :])] = lo

    def _with(self, i: int, value: int) -> list[int]:
        choices = list(self.best.choices)
        choices[i] = value
        return choices

    def delete_spans(self) -> None:
        """Delete any one span, the longest first."""
        tried: set[tuple[int, int]] = set()
        while True:
            spans = sorted({(s.start, s.end) for s in self.best.spans if s.end > s.start} - tried, key=lambda r: (r[0] - r[1], r[0]))
            if not spans:
                return
            for span in spans:
                tried.add(span)
                if self.consider(self._without([span])):
                    tried.clear()  # the stream changed: every span is new
                    break
            else:
                return


def shrink(
    strategy: Strategy[T],
    choices: Sequence[int],
    fails: Callable[[Example[T]], bool],
    *,
    budget_s: float = 180.0,
    estimate_s: float = 0.0,
    max_attempts: int | None = None,
    clock: Clock = time.monotonic,
    on_attempt: Callable[[int, Example[T], bool], None] | None = None,
) -> Shrunk[T]:
    """The smallest example, drawn by ``strategy`` from an edit of ``choices``, for which
    ``fails`` holds; ``choices`` must give a failing example (it is not run again). No run
    starts that would not end within ``budget_s`` seconds, judging by the runs so far (the
    first by ``estimate_s``). ``on_attempt(n, best, failed)`` follows each run."""
    return _Shrinker(
        strategy, choices, fails, budget_s=budget_s, estimate_s=estimate_s, max_attempts=max_attempts,
        clock=clock, on_attempt=on_attempt,
    ).run()


# --- scenarios ---------------------------------------------------------------------------

# Checks whose findings come from classifying calls: the bug class of a duplicate is in the
# classifier's reason, and which calls a check reads.
_DUPLICATE_CHECKS = {"no duplicate LLM calls": "calls", "no duplicate side effects": "side_effect_calls"}


def bug_class(reason: str) -> str:
    """The class of a duplicate call, from the classifier's reason."""
    if "had already journaled" in reason:
        return "repeated after its step's result was journaled"
    if "had already answered" in reason:
        return "repeated outside ctx.run after its answer drove progress"
    return "duplicate"


@dataclass(frozen=True)
class Target:
    """The finding a shrunk schedule must still produce: the same failed check and, for
    duplicate calls, the same bug class."""

    check: str
    bug_class: str | None = None
    message: str = ""

    @classmethod
    def of(cls, result: ScenarioResult) -> Target | None:
        """The finding that made ``result`` fail: duplicate calls first (the bugs the
        harness is for), then the first failed check."""
        failed = [f for f in result.findings if not f.get("ok")]
        failed.sort(key=lambda f: f["check"] not in _DUPLICATE_CHECKS)
        for finding in failed:
            classes = _classes(result, finding["check"])
            return cls(finding["check"], classes[0] if classes else None, finding.get("message", ""))
        return None

    def found_in(self, result: ScenarioResult) -> bool:
        return any(
            not f.get("ok") and f["check"] == self.check and (self.bug_class is None or self.bug_class in _classes(result, self.check))
            for f in result.findings
        )

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "bug_class": self.bug_class, "message": self.message}


def _classes(result: ScenarioResult, check: str) -> list[str]:
    if check not in _DUPLICATE_CHECKS:
        return []
    calls = getattr(result, _DUPLICATE_CHECKS[check], None) or []
    return list(dict.fromkeys(bug_class(c.get("reason", "")) for c in calls if c.get("class") == "duplicate"))


@dataclass
class ShrunkScenario:
    """A shrunk scenario: the minimal one, the run that showed it fails, and how it was found."""

    scenario: Scenario  # with ``choices`` set: its reproduce command replays them
    example: Example[Any]  # its plan and choices
    result: ScenarioResult  # the minimal scenario's failing run
    target: Target
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
            "finding": {**self.target.to_json(), "message": _message(self.result, self.target.check)},
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


def with_schedule(command: str, choices: Sequence[int]) -> str:
    """``command`` (``run`` or ``soak``) replaying ``choices`` instead of drawing from a
    seed: ``--seed N`` (and any earlier ``--schedule``) dropped, ``--schedule 3,0,17`` added."""
    argv, out, skip = shlex.split(command), [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--seed", "--schedule"):
            skip = True
        elif not arg.startswith(("--seed=", "--schedule=")):
            out.append(arg)
    return shlex.join([*out, "--schedule", encode_choices(choices)])


def _message(result: ScenarioResult, check: str) -> str:
    return next((f.get("message", "") for f in result.findings if f["check"] == check and not f.get("ok")), "")


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
    """Shrink a failed run of a scenario with a random ``plan``. ``run(scenario, folder)``
    runs each candidate (in ``out_dir/attempt-N``; only the minimal run's folder is kept).

    Timing decides whether a fault meets a request in flight, so a schedule shrunk to the
    edge (a kill 50 ms after the answer it must follow) may not fail every time. The
    smallest failing schedule is therefore run once more (``confirm``: up to that many
    re-runs, stepping back to the previous smaller-than-original one when a re-run passes);
    one run's time is kept from the search for it. ``confirmed`` says whether a re-run
    failed. The search stops early after ``max_unjudged`` runs in a row end ``unknown``
    with an error (the environment is broken, not the agent); the first errors are kept.
    None when there is nothing to shrink: no plan, no known choices, no failed check, or
    no budget."""
    plan = getattr(scenario, "plan", None)
    target = Target.of(result)
    if plan is None or target is None or budget_s <= 0:
        return None
    if scenario.choices is not None:
        choices: Sequence[int] = scenario.choices
    elif scenario.seed is not None:
        choices = plan.generate(scenario.seed).choices
    else:
        return None
    started = clock()
    accepted: list[tuple[Example[Any], ScenarioResult, Path]] = []  # each smaller than the one before
    runs = 0
    verdicts: dict[str, int] = {}
    errors: list[str] = []
    unjudged = 0  # runs in a row that ended unknown with an error
    stopped: str | None = None

    def attempt(example: Example[Any], name: str) -> tuple[Scenario, ScenarioResult, Path, bool]:
        nonlocal runs, unjudged
        runs += 1
        folder = out_dir / name
        candidate = scenario.with_choices(example.choices)
        outcome = run(candidate, folder)
        failed = target.found_in(outcome)
        verdicts[outcome.verdict] = verdicts.get(outcome.verdict, 0) + 1
        unjudged = unjudged + 1 if outcome.verdict == "unknown" and outcome.errors else 0
        for error in outcome.errors[:1]:
            line = f"{name}: {error.splitlines()[0] if error else ''}"
            if len(errors) < max_errors and line not in errors:
                errors.append(line)
        if on_attempt is not None:
            on_attempt(runs, candidate, failed)
        return candidate, outcome, folder, failed

    def fails(example: Example[Any]) -> bool:
        nonlocal stopped
        _, outcome, folder, failed = attempt(example, f"attempt-{runs + 1:03d}")
        if unjudged >= max_unjudged:
            shutil.rmtree(folder, ignore_errors=True)
            stopped = f"{unjudged} runs in a row could not be judged (see errors)"
            raise StopShrinking(stopped)
        if failed:
            if accepted:  # superseded: only the latest run's folder is kept
                shutil.rmtree(accepted[-1][2], ignore_errors=True)
            accepted.append((example, outcome, folder))
        else:
            shutil.rmtree(folder, ignore_errors=True)
        return failed

    reserve = result.duration_s if confirm else 0.0
    shrunk = shrink(plan, choices, fails, budget_s=max(0.0, budget_s - reserve), estimate_s=result.duration_s, clock=clock)
    example, minimal, folder = shrunk.example, result, None
    confirmed: bool | None = None
    if accepted:
        example, minimal, folder = accepted[-1]
        confirmed = False if stopped is None else None
        for tried, (candidate_example, _, _) in enumerate(reversed(accepted)):
            if tried >= confirm or stopped is not None:
                break
            _, outcome, again, failed = attempt(candidate_example, f"confirm-{tried + 1}")
            if failed:
                if candidate_example is not accepted[-1][0]:  # stepped back to a larger one
                    shutil.rmtree(accepted[-1][2], ignore_errors=True)
                    example, minimal, folder = candidate_example, outcome, again
                else:
                    shutil.rmtree(again, ignore_errors=True)
                confirmed = True
                break
            shutil.rmtree(again, ignore_errors=True)
    return ShrunkScenario(
        scenario.with_choices(example.choices), example, minimal, target, shrunk, scenario, budget_s,
        clock() - started, confirmed, runs - shrunk.attempts, folder, verdicts, errors, stopped,
    )


__all__ = [
    "StopShrinking",
    "Shrunk",
    "ShrunkScenario",
    "Target",
    "bug_class",
    "shrink",
    "shrink_scenario",
    "sort_key",
    "with_schedule",
]

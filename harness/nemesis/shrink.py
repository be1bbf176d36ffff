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

``harness.runner.shrinking`` applies it to scenarios: there each attempt is a real run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from harness.nemesis.strategies import Example, Strategy, canonical

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


__all__ = ["Clock", "Shrunk", "StopShrinking", "shrink", "sort_key"]

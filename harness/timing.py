"""Where a run's time goes: named phases, summed when a phase happens more than once.
Results carry them (``ScenarioResult.phases_s``) and ``benchmarks/scenario_breakdown.py``
prints them per scenario family."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Phases:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 4)

    def update(self, other: "Phases") -> None:
        for name, seconds in other.seconds.items():
            self.add(name, seconds)


__all__ = ["Phases"]

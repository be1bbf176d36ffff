"""Seeded random fault schedules. The same seed gives the same schedule, so a failing
run is reproduced with one command; the seed and the schedule are saved in the results.

A schedule is a sequence of non-overlapping fault windows (the nemesis plays faults one
after another), each starting at a time drawn after the previous one healed."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from harness.nemesis.faults import (
    ROUTING,
    Fault,
    Kill,
    Latency,
    LLMRateLimited,
    LLMServerError,
    Partition,
    Pause,
    ResetPeer,
    Terminate,
)
from harness.nemesis.triggers import After, At

FaultMaker = Callable[[random.Random, str, At, After], Fault]

# What a random schedule draws from: (name, which targets it applies to, how to build it).
_PROCESS_FAULTS: dict[str, FaultMaker] = {
    "kill": lambda rng, target, when, until: Kill(target, when=when, until=until),
    "terminate": lambda rng, target, when, until: Terminate(target, when=when, until=until, grace_s=0.5),
    "pause": lambda rng, target, when, until: Pause(target, when=when, until=until),
}
_LINK_FAULTS: dict[str, FaultMaker] = {
    "partition": lambda rng, target, when, until: Partition(target, when=when, until=until),
    "latency": lambda rng, target, when, until: Latency(
        target, when=when, until=until, latency_ms=rng.choice([50, 200, 500]), jitter_ms=rng.choice([0, 50])
    ),
    "reset_peer": lambda rng, target, when, until: ResetPeer(target, when=when, until=until),
}
_LLM_FAULTS: dict[str, FaultMaker] = {
    "llm_429": lambda rng, target, when, until: LLMRateLimited(match=ROUTING, times=rng.randint(1, 3), when=when, until=until),
    "llm_5xx": lambda rng, target, when, until: LLMServerError(times=rng.randint(1, 3), when=when, until=until),
}


def random_schedule(
    seed: int,
    *,
    processes: Sequence[str],
    links: Sequence[str],
    faults: int = 4,
    max_window_s: float = 1.5,
) -> tuple[Fault, ...]:
    """``faults`` windows over the given process names (e.g. ``router``, ``restate``) and
    link names (e.g. ``restate->router``), plus LLM faults."""
    rng = random.Random(seed)
    menu: list[tuple[FaultMaker, str]] = (
        [(make, p) for make in _PROCESS_FAULTS.values() for p in processes]
        + [(make, link) for make in _LINK_FAULTS.values() for link in links]
        + [(make, "llm") for make in _LLM_FAULTS.values()]
    )
    schedule: list[Fault] = []
    cursor = 0.0
    for _ in range(faults):
        make, target = rng.choice(menu)
        start = cursor + rng.uniform(0.1, 0.8)
        window = round(rng.uniform(0.2, max_window_s), 2)
        schedule.append(make(rng, target, At(round(start, 2)), After(window)))
        cursor = start + window
    return tuple(schedule)

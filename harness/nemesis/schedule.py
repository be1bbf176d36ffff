"""Seeded random fault schedules, built from strategies (``harness.nemesis.strategies``).
The same seed gives the same schedule, so a failing run is reproduced with one command; the
seed and the schedule are saved in the results. Every random choice is recorded, so a
failing schedule can be shrunk (``harness.nemesis.shrink``) and the smaller one replayed
from its choices (``--schedule 3,0,17,1``).

A schedule is a sequence of fault windows that the nemesis plays one after another. Each
fault draws its own start (``At``, from the run's time zero) and window (``After``); the
schedule orders them by start and pushes a start that falls inside the previous window to
just after it, so removing a fault leaves the others where they were.

    schedules(processes=["router", "restate"], links=["restate->router"], faults=6)
    # = lists(one_of(process_faults(...), link_faults(...), llm_faults(...)), max_size=6)
    #   .map(one_after_another)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from harness.nemesis.faults import (
    OFFERS_TOOLS,
    Fault,
    Kill,
    Latency,
    LLMBadToolArgs,
    LLMEmpty,
    LLMRateLimited,
    LLMRefusal,
    LLMSchemaViolation,
    LLMServerError,
    LLMStreamEarlyEnd,
    LLMTruncated,
    LLMWrongTool,
    Partition,
    Pause,
    ResetPeer,
    Terminate,
)
from harness.nemesis.strategies import (
    Strategy,
    builds,
    floats,
    integers,
    just,
    lists,
    one_of,
    sampled_from,
)
from harness.nemesis.triggers import After, At

GAP_S = 0.1  # between one fault's window and the next one's start
MIN_WINDOW_S = 0.2


@dataclass(frozen=True)
class Timing:
    """Where a fault's windows may fall: starts in ``[GAP_S, horizon_s]``, windows in
    ``[MIN_WINDOW_S, max_window_s]``, on a grid of ``step_s``; both shrink towards the minimum."""

    horizon_s: float = 5.2
    max_window_s: float = 1.5
    step_s: float = 0.05

    def when(self) -> Strategy[At]:
        return floats(GAP_S, max(GAP_S, self.horizon_s), step=self.step_s).map(At)

    def until(self) -> Strategy[After]:
        return floats(MIN_WINDOW_S, max(MIN_WINDOW_S, self.max_window_s), step=self.step_s).map(After)


def process_faults(targets: Sequence[str], timing: Timing = Timing()) -> Strategy[Fault]:
    """Kill (then restart), SIGTERM (escalating to SIGKILL after 0.5 s, then restart) or
    SIGSTOP (then SIGCONT) of one of ``targets`` (agent names, ``restate``)."""
    target = sampled_from(targets)
    return one_of(
        builds(Kill, target, when=timing.when(), until=timing.until()),
        builds(Terminate, target, when=timing.when(), until=timing.until(), grace_s=just(0.5)),
        builds(Pause, target, when=timing.when(), until=timing.until()),
    )


def link_faults(links: Sequence[str], timing: Timing = Timing()) -> Strategy[Fault]:
    """A partition, latency or connection resets on one of ``links`` (``restate->router``…)."""
    link = sampled_from(links)
    return one_of(
        builds(Partition, link, when=timing.when(), until=timing.until()),
        builds(
            Latency, link, when=timing.when(), until=timing.until(),
            latency_ms=sampled_from([50, 200, 500]), jitter_ms=sampled_from([0, 50]),
        ),
        builds(ResetPeer, link, when=timing.when(), until=timing.until()),
    )


def llm_faults(timing: Timing = Timing(), *, bad_answers: bool = False) -> Strategy[Fault]:
    """The fake LLM answers 429 to the next 1 to 3 routing calls, or 503 to the next 1 to 3
    calls; with ``bad_answers``, also a bad answer (``bad_answer_faults``)."""
    return one_of(
        builds(LLMRateLimited, match=just(OFFERS_TOOLS), times=integers(1, 3), when=timing.when(), until=timing.until()),
        builds(LLMServerError, times=integers(1, 3), when=timing.when(), until=timing.until()),
        *([bad_answer_faults(timing)] if bad_answers else []),
    )


def bad_answer_faults(timing: Timing = Timing()) -> Strategy[Fault]:
    """The next 1 or 2 calls get a bad answer: empty, truncated, refused or ended early (any
    call), or arguments that are not JSON or not the tool's, or a tool not offered (a call
    that offers tools). Opt-in: an agent that takes whatever the model says commits it."""
    times = integers(1, 2)
    return one_of(
        sampled_from([LLMEmpty, LLMTruncated, LLMRefusal, LLMStreamEarlyEnd]).flatmap(lambda kind: builds(
            kind, times=times, when=timing.when(), until=timing.until())),
        sampled_from([LLMBadToolArgs, LLMSchemaViolation, LLMWrongTool]).flatmap(lambda kind: builds(
            kind, match=just(OFFERS_TOOLS), times=times, when=timing.when(), until=timing.until())),
    )


def one_after_another(faults: Iterable[Fault]) -> tuple[Fault, ...]:
    """Faults ordered by start, each starting no earlier than ``GAP_S`` after the previous
    window (the nemesis plays them in sequence). Faults need ``At``/``After`` triggers."""
    ordered = sorted(faults, key=lambda f: f.when.seconds)  # type: ignore[attr-defined]
    out: list[Fault] = []
    free_at = 0.0
    for fault in ordered:
        start = round(max(fault.when.seconds, free_at + GAP_S if out else 0.0), 2)  # type: ignore[attr-defined]
        out.append(fault if start == fault.when.seconds else replace(fault, when=At(start)))  # type: ignore[attr-defined,type-var]
        free_at = start + fault.until.seconds  # type: ignore[union-attr,attr-defined]
    return tuple(out)


def schedules(
    *,
    processes: Sequence[str],
    links: Sequence[str],
    faults: int = 4,
    max_window_s: float = 1.5,
    horizon_s: float | None = None,
    llm: bool = True,
    bad_answers: bool = False,
) -> Strategy[tuple[Fault, ...]]:
    """Schedules of ``faults`` windows (generated with exactly that many; shrinking removes
    some) over the given process names and link names, plus LLM faults (with
    ``bad_answers``, bad answers among them). Starts fall within ``horizon_s`` (default:
    1.3 s per fault)."""
    timing = Timing(horizon_s=1.3 * faults if horizon_s is None else horizon_s, max_window_s=max_window_s)
    kinds = [
        *([process_faults(processes, timing)] if processes else []),
        *([link_faults(links, timing)] if links else []),
        *([llm_faults(timing, bad_answers=bad_answers)] if llm else []),
    ]
    if not kinds:
        return just(())
    return lists(one_of(*kinds), max_size=faults, average_size=faults).map(one_after_another)


@dataclass(frozen=True)
class DrawnSchedule:
    """What a random scenario draws: its fault schedule and how many requests it sends."""

    faults: tuple[Fault, ...]
    requests: int


def drawn_schedules(schedule: Strategy[tuple[Fault, ...]], *, requests: int) -> Strategy[DrawnSchedule]:
    """A schedule and a request count: generated with ``requests``, shrinkable down to 1."""
    return builds(DrawnSchedule, requests=integers(1, max(1, requests), generate=max(1, requests)), faults=schedule)


def random_schedule(
    seed: int,
    *,
    processes: Sequence[str],
    links: Sequence[str],
    faults: int = 4,
    max_window_s: float = 1.5,
    bad_answers: bool = False,
) -> tuple[Fault, ...]:
    """``faults`` windows over the given process names (e.g. ``router``, ``restate``) and
    link names (e.g. ``restate->router``), plus LLM faults: ``schedules(...)`` drawn from ``seed``."""
    return schedules(processes=processes, links=links, faults=faults, max_window_s=max_window_s,
                     bad_answers=bad_answers).example(seed)


__all__ = [
    "DrawnSchedule",
    "bad_answer_faults",
    "Timing",
    "link_faults",
    "llm_faults",
    "drawn_schedules",
    "one_after_another",
    "process_faults",
    "random_schedule",
    "schedules",
]

"""Retry storms, judged on what the agent controls: how many calls it makes inside each
Restate attempt (an SDK's own retries, a loop in a step), and whether it bounds its
retries while a dependency is down, judged against Restate's production retry policy,
never the harness's fast one. Retrying until the dependency is back is Restate's default."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import ClassVar

from harness.checker.check import Check, CheckResult
from harness.checker.classify import ClassifiedCall
from harness.history import History
from harness.restate_settings import PRODUCTION, duration

_OUTAGE_KINDS = ("llm_5xx", "llm_429")


def _outage(history: History) -> tuple[float, float] | None:
    """The window the LLM was down for every call (a fault with no call limit)."""
    for fault in history.faults:
        if fault.kind in _OUTAGE_KINDS and fault.detail.get("times") is None:
            return fault.applied_at, fault.undone_at or float("inf")
    return None


@dataclass(frozen=True)
class Attempts:
    """Per request, while the LLM was down: its failed calls and Restate's attempts."""

    calls: int
    attempts: int
    gap_s: float | None  # the median time between consecutive calls

    @property
    def per_attempt(self) -> float:
        return self.calls / max(1, self.attempts)


def attempts_during_outage(history: History) -> list[Attempts]:
    """Per request and per logical call (its fingerprint: parallel steps are separate calls),
    the failed calls while the LLM was down, against the Restate attempts of its request."""
    window = _outage(history)
    if window is None:
        return []
    found = []
    for request in history.requests:
        groups: dict[str, list[float]] = {}
        for c in history.llm_calls:
            if c.token == request.token and window[0] <= c.arrived_at <= window[1] and c.outcome != "ok":
                groups.setdefault(c.fingerprint, []).append(c.arrived_at)
        tree = history.tree_of(request.invocation_id)
        attempts = max((history.samples.max_retry_count.get(i, 0) for i in tree), default=0)
        for times in groups.values():
            times.sort()
            gaps = [b - a for a, b in zip(times, times[1:])]
            found.append(Attempts(len(times), max(1, attempts), median(gaps) if gaps else None))
    return found


@dataclass(frozen=True)
class CallsPerAttempt(Check):
    """At most ``at_most`` LLM calls inside one Restate attempt while the LLM is down.
    More are retries hidden from Restate (an SDK's ``max_retries``, a loop in a step): as a
    finding above a storm's bound, as an advisory above one."""

    name: ClassVar[str] = "LLM calls per Restate attempt"
    bug_class: ClassVar[str | None] = "retry_storm"
    at_most: float = 10.0

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        seen = attempts_during_outage(history)
        if not seen:
            return self.result(True, "the LLM was not down for any request", exercised=False)
        worst = max(seen, key=lambda a: a.per_attempt)
        k = worst.per_attempt
        figures = (f"about {k:.0f} LLM call(s) per Restate attempt ({worst.calls} calls over {worst.attempts} "
                   f"attempt(s) while the LLM was down")
        if worst.gap_s is not None:
            figures += f", {duration(worst.gap_s)} apart"
        figures += ")"
        if k <= self.at_most + 0.5:  # the last attempt may be cut short by the outage's end
            return self.result(True, figures)
        envelope = PRODUCTION.retry.max_attempts * k
        return self.result(
            False,
            f"{figures}: each Restate attempt is multiplied by retries Restate does not see. Under Restate's default "
            f"policy ({PRODUCTION.retry.max_attempts} attempts over {duration(PRODUCTION.retry.span_s())}) that is "
            f"about {envelope:.0f} calls for one step",
            advice="let Restate own the retries: turn the client's off (`AsyncOpenAI(max_retries=0)`, "
                   "`AsyncAnthropic(max_retries=0)`, the AI SDK's `maxRetries: 0`; no retry loop inside the step) "
                   "and bound the step with `RunOptions(max_attempts=..., max_duration=...)` (TypeScript: "
                   "`ctx.run(name, fn, { maxRetryAttempts })`)",
        )


@dataclass(frozen=True)
class RetriesBounded(Check):
    """An advisory: did the agent give up on its own while the LLM was down (a terminal
    failure), or does it retry for as long as Restate's policy lets it? The latter is
    Restate's default, and a choice: the advisory says what it costs in production."""

    name: ClassVar[str] = "retries bounded while the LLM is down"
    bug_class: ClassVar[str | None] = "retry_storm"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        window = _outage(history)
        seen = attempts_during_outage(history)
        if window is None or not seen:
            return self.result(True, "the LLM was not down for any request", exercised=False)
        ended = [history.invocation.get(r.invocation_id) for r in history.requests]
        terminal = [inv for inv in ended if inv is not None and inv.done and inv.completion_result == "failure"
                    and (inv.completed_at or 0.0) <= window[1]]
        if terminal:
            took = max((inv.completed_at or window[0]) - window[0] for inv in terminal)
            return self.result(True, f"failed terminally {duration(max(0.0, took))} into the outage, after "
                                     f"{max(a.attempts for a in seen)} attempt(s)")
        k = max(a.per_attempt for a in seen)
        policy = PRODUCTION.retry
        return self.result(
            False,
            f"no terminal outcome during the {duration(window[1] - window[0])} outage: the step retries for as long "
            f"as the LLM is down. With Restate's default policy that is {policy.max_attempts} attempts over "
            f"{duration(policy.span_s())} (about {policy.max_attempts * k:.0f} LLM calls at {k:.0f} per attempt), "
            f"then Restate {'pauses the invocation until someone resumes it' if policy.on_max_attempts == 'pause' else 'fails it'}",
            advice="that is Restate's intended default; if a request should fail instead, bound the step: "
                   "`RunOptions(max_attempts=6, max_duration=timedelta(seconds=60))`",
        )


@dataclass(frozen=True)
class TerminalWithin(Check):
    """Opt-in (``--expect-terminal-within``): with the LLM down, every request fails
    terminally within ``seconds`` of the outage's start (an answer given meanwhile is a
    fallback, not the failure the user expects)."""

    name: ClassVar[str] = "fails terminally within the expected time"
    bug_class: ClassVar[str | None] = "retry_storm"
    seconds: float = 60.0

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        window = _outage(history)
        if window is None or not history.requests:
            return self.result(True, "the LLM was not down for any request", exercised=False)
        late = []
        for request in history.requests:
            inv = history.invocation.get(request.invocation_id)
            ended = inv.completed_at if inv is not None and inv.done else None
            if ended is None or ended - window[0] > self.seconds:
                late.append(f"{request.invocation_id} " + (f"ended after {duration(ended - window[0])}" if ended
                                                           else f"is {inv.status if inv else 'missing'}"))
            elif inv is not None and inv.completion_result != "failure" and ended <= window[1]:
                late.append(f"{request.invocation_id} answered while the LLM was down: a fallback, not a failure")
        return self.result(not late, "; ".join(late[:3]) or f"every request ended within {duration(self.seconds)}")

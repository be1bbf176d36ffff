"""Generic oracles: checks that need no expected answer, only the agent's own baseline.
Each reads the history, like every check; a failing one names a bug class."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from harness.checker.checks import Finding, same_answer
from harness.checker.classify import ClassifiedCall, llm_calls, side_effects
from harness.history import History, Request


def masked(value: Any, token: str) -> Any:
    """``value`` with the request's token masked, so answers of different requests compare."""
    if isinstance(value, str):
        return value.replace(token, "{token}")
    if isinstance(value, list):
        return [masked(v, token) for v in value]
    if isinstance(value, dict):
        return {k: masked(v, token) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class SameAnswerAsBaseline:
    """Differential: under a transient fault, every request ends with the baseline's answer
    (compared decoded, the token masked). A different committed answer is degraded."""

    baseline: Any
    name = "same answer as the baseline"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        problems = []
        for request in history.requests:
            inv = history.invocation.get(request.invocation_id)
            if inv is None or not inv.done:
                continue  # liveness is another oracle's
            if not inv.succeeded:
                problems.append(f"{inv.id} failed terminally: {inv.completion_failure}")
                continue
            output = masked(history.outputs.get(inv.id), request.token)
            if not same_answer(output, self.baseline):
                problems.append(f"{inv.id} answered {output!r}, the baseline {self.baseline!r}")
        return Finding(self.name, not problems, "; ".join(problems[:3]) or "the baseline's answer")


@dataclass(frozen=True)
class Live:
    """Every invocation reached an outcome: none paused, suspended for good or still running."""

    name = "every invocation reached an outcome"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        stuck = [inv for inv in history.invocations if not inv.done]
        why = "; ".join(
            f"{inv.id} ({inv.target}) is {inv.status}" + (f": {inv.last_failure[:200]}" if inv.last_failure else "")
            for inv in stuck[:3]
        )
        return Finding(self.name, not stuck and bool(history.requests), why or "all done")


@dataclass(frozen=True)
class NoDuplicates:
    """No LLM call, and no side effect on a stub, repeated after its result was journaled or used."""

    kind: str  # "llm" or "side_effect"

    @property
    def name(self) -> str:
        return "no duplicate LLM calls" if self.kind == "llm" else "no duplicate side effects"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        mine = llm_calls(calls) if self.kind == "llm" else side_effects(calls)
        dups = [c for c in mine if c.label == "duplicate"]
        why = "; ".join(f"call #{d.call.id}: {d.reason}" for d in dups[:3])
        return Finding(self.name, not dups, why or f"{len(mine)} call(s), none repeated")


def children_per_target(history: History, request: Request) -> Counter[str]:
    """The child invocations one request started, by target: callees through Restate
    (``invoked_by_id``) and invocations started over plain HTTP whose journal input carries
    the request's token (they have no parent in Restate's eyes)."""
    tree = set(history.tree_of(request.invocation_id))
    counts: Counter[str] = Counter(history.invocation[i].target for i in tree if i != request.invocation_id)
    roots = {r.invocation_id for r in history.requests}
    for inv in history.invocations:
        if inv.id in tree or inv.id in roots or inv.invoked_by_id:
            continue
        if request.token in history.inputs.get(inv.id, ""):
            counts[inv.target] += 1
    return counts


@dataclass(frozen=True)
class NoDuplicateChildWork:
    """One request never starts a child handler more often than the baseline did (the
    journal's calls, plus children started over plain HTTP)."""

    baseline: tuple[tuple[str, int], ...]  # (target, count) per request in the baseline
    name = "no duplicate child work"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        expected = dict(self.baseline)
        problems = []
        for request in history.requests:
            for target, n in children_per_target(history, request).items():
                if n > expected.get(target, 0):
                    problems.append(f"{request.invocation_id} started {target} {n} times, the baseline {expected.get(target, 0)}")
        return Finding(self.name, not problems, "; ".join(problems[:3]) or "as in the baseline")


@dataclass(frozen=True)
class Deterministic:
    """Restate never reported a journal mismatch (RT0016): replay took the same path."""

    name = "deterministic replay"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        found = [
            f"{inv}: {failure}"
            for inv, failures in history.samples.failures_seen.items()
            for failure in failures
            if "RT0016" in failure or "mismatch" in failure.lower()
        ]
        return Finding(self.name, not found, found[0] if found else "no journal mismatch")


@dataclass(frozen=True)
class BoundedRetries:
    """With the LLM down for good, the invocation ends (terminally) within bounded attempts:
    more than ``max_calls`` calls for one step, or no outcome, is a retry storm."""

    max_calls: int = 10
    name = "bounded retries"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        per_call = Counter((c.token, c.fingerprint) for c in history.llm_calls)
        worst = max(per_call.values(), default=0)
        ended = all(history.invocation.get(r.invocation_id) is not None and history.invocation[r.invocation_id].done
                    for r in history.requests)
        if worst > self.max_calls or not ended:
            times = [c.arrived_at for c in history.llm_calls]
            span = (max(times) - min(times)) if len(times) > 1 else 0.0
            rate = f"{len(times) / span:.1f}/s" if span > 0 else "n/a"
            why = (f"{worst} calls for one step ({len(times)} in all over {span:.1f}s, {rate}); "
                   + ("no terminal outcome by the deadline" if not ended else "it did end"))
            return Finding(self.name, False, why)
        return Finding(self.name, True, f"ended after at most {worst} calls per step")

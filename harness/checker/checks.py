"""Checks: what must hold after a run. Each is a small value that reads the history (and
the classification of its calls, which is derived from it) and returns one ``Finding``; a
scenario lists its checks. Checks import only the history and the classifier."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from harness.checker.classify import ClassifiedCall, llm_calls, side_effects, tally
from harness.history import History, Invocation


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    message: str


class Check(Protocol):
    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        """``calls``: every LLM call and side effect of the run, classified."""
        ...


def same_answer(a: object, b: object) -> bool:
    """Answers compared as decoded values: a parent that returns its callee's output
    re-encoded (raw JSON bytes, so a JSON string in quotes) gives the same answer."""
    return _decoded(a) == _decoded(b)


def _decoded(value: object) -> object:
    while isinstance(value, str):
        try:
            inner = json.loads(value)
        except ValueError:
            return value
        if inner == value:
            return value
        value = inner
    return value


def _no_duplicates(check: str, calls: list[ClassifiedCall]) -> Finding:
    dups = [c for c in calls if c.label == "duplicate"]
    why = "".join(f"; call #{d.call.id}: {d.reason}" for d in dups[:3])
    return Finding(check, not dups, f"{len(calls)} call(s), {len(dups)} duplicate(s){why}")


@dataclass(frozen=True)
class AllCompleted:
    """Every invocation completed successfully, with ``answer`` as output if given."""

    answer: str | None = None

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        invocations = history.invocation
        problems = []
        for request in history.requests:
            inv = invocations.get(request.invocation_id)
            if inv is None or not inv.done:
                problems.append(f"{request.invocation_id} is {inv.status if inv else 'missing'}")
                continue
            if inv.completion_result != "success":
                problems.append(f"{request.invocation_id} failed: {inv.completion_failure}")
                continue
            body = history.outputs.get(request.invocation_id)
            if history.forwarded:
                # A real model words its answers its own way: require one, not its text.
                if not body:
                    problems.append(f"{request.invocation_id} answered nothing")
            elif self.answer is not None and body != self.answer:
                problems.append(f"{request.invocation_id} answered {body!r}, expected {self.answer!r}")
        done = len(history.requests) - len(problems)
        return Finding(
            "all invocations completed",
            not problems and bool(history.requests),
            f"{done}/{len(history.requests)} completed as expected" + (": " + "; ".join(problems[:5]) if problems else ""),
        )


@dataclass(frozen=True)
class FailedTerminally:
    """Every invocation ended in a terminal failure whose message contains ``message``:
    the expected outcome when, say, the LLM stays down beyond ``max_attempts``."""

    message: str = ""

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        invocations = history.invocation
        bad = []
        for request in history.requests:
            inv = invocations.get(request.invocation_id)
            if inv is None or not inv.done or inv.completion_result != "failure":
                bad.append(f"{request.invocation_id} is {inv.status if inv else 'missing'}/{inv.completion_result if inv else ''}")
            elif self.message not in (inv.completion_failure or ""):
                bad.append(f"{request.invocation_id} failed with {inv.completion_failure!r}")
        return Finding(
            "failed terminally as expected",
            not bad and bool(history.requests),
            "all failed terminally" if not bad else "; ".join(bad[:5]),
        )


@dataclass(frozen=True)
class NoDuplicateLLMCalls:
    """No LLM call was repeated after its answer was journaled or used."""

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        return _no_duplicates("no duplicate LLM calls", llm_calls(calls))


@dataclass(frozen=True)
class Wasted:
    """The number of wasted LLM calls: ``exactly`` n, or between ``at_least`` and ``at_most``."""

    exactly: int | None = None
    at_least: int = 0
    at_most: int | None = None

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        n = tally(llm_calls(calls))["wasted"]
        if self.exactly is not None:
            ok, want = n == self.exactly, f"exactly {self.exactly}"
        else:
            ok = n >= self.at_least and (self.at_most is None or n <= self.at_most)
            want = f"{self.at_least}..{self.at_most if self.at_most is not None else '∞'}"
        return Finding("wasted LLM calls", ok, f"{n} wasted, expected {want}")


@dataclass(frozen=True)
class WastedExplainedByFaults:
    """Every wasted call is explained: it overlapped a fault window, it was itself an
    outside failure (an LLM error, a cut), or Restate recorded a failed attempt of its
    request (e.g. an inactivity timeout under load). An unexplained retry means the agent
    or its SDK repeated work on its own, behind Restate's back."""

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        retried = {
            r.invocation_id
            for r in history.requests
            if any(history.samples.max_retry_count.get(i, 0) > 1 for i in history.tree_of(r.invocation_id))
        }
        # A wasted call was exposed from its arrival until its retry arrived: a fault that hit
        # the journaling of its answer (after the answer itself) still explains it.
        retry_at: dict[int, float | None] = {}
        by_group: dict[tuple[str | None, str], list[ClassifiedCall]] = {}
        for c in sorted(llm_calls(calls), key=lambda c: c.call.arrived_at):
            by_group.setdefault((c.call.token, c.call.fingerprint), []).append(c)
        for group in by_group.values():
            for this, following in zip(group, [*group[1:], None]):
                retry_at[this.call.id] = following.call.arrived_at if following else None
        unexplained = [
            c
            for c in llm_calls(calls)
            if c.label == "wasted"
            and c.call.outcome == "ok"
            and c.invocation_id not in retried
            and not any(f.overlaps(c.call.arrived_at, retry_at.get(c.call.id)) for f in history.faults)
        ]
        return Finding(
            "wasted calls explained by faults",
            not unexplained,
            "all explained" if not unexplained else f"calls {[c.call.id for c in unexplained][:20]} were retried with no fault and no failed attempt",
        )


@dataclass(frozen=True)
class StepsOnce:
    """Every journaled step of a completed invocation completed, with exactly one result.
    Steps are told apart by their journal index, not their name: frameworks reuse names."""

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        problems = []
        for step in history.steps:
            if not history.invocation.get(step.invocation_id, _MISSING).done:
                continue
            if step.completions > 1:
                problems.append(f"{step.invocation_id}: {step.describe()} has {step.completions} results")
            elif not step.completed:
                problems.append(f"{step.invocation_id}: {step.describe()} never completed")
        return Finding("steps once and completed", not problems, "; ".join(problems[:5]) or "ok")


_MISSING = Invocation("", "missing")


@dataclass(frozen=True)
class RetriesPlausible:
    """Restate retried between ``at_least`` and ``at_most`` times. Read from the highest
    ``retry_count`` seen while the run was going (completed rows no longer carry it);
    on 1.7 it counts attempts, so it is 1 while the first attempt runs."""

    at_least: int = 0
    at_most: int = 20

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        counts = history.samples.max_retry_count or {}
        retries = max((max(0, n - 1) for n in counts.values()), default=0)
        ok = self.at_least <= retries <= self.at_most
        return Finding("retry count plausible", ok, f"{retries} retries, expected {self.at_least}..{self.at_most}")


@dataclass(frozen=True)
class SlowedDown:
    """The run took at least ``seconds`` from the first request to the last completion:
    proof that a slowing fault (latency, bandwidth) was actually in the path."""

    seconds: float

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        done = [i.completed_at for i in history.invocations if i.completed_at is not None]
        took = (max(done) - history.started_at) if done else 0.0
        return Finding("fault slowed the run", took >= self.seconds, f"took {took:.2f}s, expected ≥ {self.seconds:g}s")


@dataclass(frozen=True)
class CallTree:
    """Remote routing held together: each caller has exactly one callee invocation per
    ``Command: Call`` in its journal (none lost, none doubled by a crash while the call was
    in flight), every callee completed, and the caller answered with its callee's answer."""

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        problems = []
        for request in history.requests:
            root = request.invocation_id
            commands = [e for e in history.journal_of(root) if e.entry_type == "Command: Call"]
            callees = history.callees_of(root)
            if not commands:
                problems.append(f"{root} called no agent")
            if len(callees) != len(commands):
                problems.append(f"{root} has {len(callees)} callee invocations for {len(commands)} Call entries")
            for callee in callees:
                if not callee.succeeded:
                    problems.append(f"callee {callee.id} ({callee.target}) is {callee.status}/{callee.completion_result}")
            answer = history.outputs.get(root)
            if callees and not same_answer(history.outputs.get(callees[-1].id), answer):
                problems.append(f"{root} answered {answer!r}, its callee {history.outputs.get(callees[-1].id)!r}")
        return Finding("call tree intact", not problems and bool(history.requests), "; ".join(problems[:5]) or "one callee per call, all completed, answers passed up")


@dataclass(frozen=True)
class NoDuplicateSideEffects:
    """No side effect (a call to a stub such as the refunds API) was repeated after it had
    driven journaled progress: the same rules as for LLM calls, on the stubs' ledgers."""

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        effects = side_effects(calls)
        if not effects:
            return Finding("no duplicate side effects", False, "no side effect was made: nothing to judge")
        return _no_duplicates("no duplicate side effects", effects)


@dataclass(frozen=True)
class NoJournalMismatch:
    """Restate never reported a journal mismatch (RT0016): the handler replayed
    deterministically. Non-determinism outside ``ctx.run`` shows up here on replay."""

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        mismatches = {
            inv: failure
            for inv, failures in history.samples.failures_seen.items()
            for failure in failures
            if "RT0016" in failure or "mismatch" in failure.lower()
        }
        return Finding(
            "no journal mismatch",
            not mismatches,
            "deterministic replay" if not mismatches else "; ".join(f"{i}: {f[:200]}" for i, f in list(mismatches.items())[:3]),
        )


@dataclass(frozen=True)
class OneInvocationPerRequest:
    """Each request (idempotency key) created exactly one invocation, however often the
    workload had to resend it: the ingress's idempotency held."""

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        per_key: dict[str, int] = {}
        for row in history.keyed_invocations:
            key = row.idempotency_key or ""
            per_key[key] = per_key.get(key, 0) + 1
        bad = {r.idempotency_key: per_key.get(r.idempotency_key, 0) for r in history.requests if per_key.get(r.idempotency_key, 0) != 1}
        return Finding(
            "one invocation per request",
            not bad and bool(history.requests),
            "each idempotency key made one invocation" if not bad else f"invocations per key: {bad}",
        )


@dataclass(frozen=True)
class NoAcknowledgedRequestLost:
    """Every request Restate acknowledged (its send returned an invocation id) is still
    there once the faults are over: its invocation row exists and it completed (with
    either outcome: the answer is other checks' business). A row missing after a node
    crashed or was cut off means the cluster lost an acknowledged write."""

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> Finding:
        acknowledged = [r for r in history.requests if r.invocation_id]
        invocations = history.invocation
        lost = [r.invocation_id for r in acknowledged if r.invocation_id not in invocations]
        unfinished = [f"{r.invocation_id} is {invocations[r.invocation_id].status}" for r in acknowledged
                      if r.invocation_id in invocations and not invocations[r.invocation_id].done]
        problems = [f"{i} is missing" for i in lost] + unfinished
        return Finding(
            "no acknowledged request lost",
            bool(acknowledged) and not problems,
            f"{len(acknowledged)} acknowledged, {len(lost)} lost, {len(unfinished)} not completed"
            + (": " + "; ".join(problems[:5]) if problems else ""),
        )

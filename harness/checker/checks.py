"""Checks: what must hold after a run. Each is a small value that reads the history (and
the classification of its calls, which is derived from it) and returns one ``CheckResult``;
a scenario lists its checks, and validation's oracles are the same objects.

Every check carries the bug class it judges (None for the catalogue's bookkeeping checks)
and a severity: a **finding** is a safety violation (work lost or done twice, a wrong answer
committed, an invocation that cannot finish once every fault healed) and fails the run; an
**advisory** is a liveness or cost observation with figures and a fix, reported but never
failing unless the user asks for it. Checks import only the history, the classifier and
Restate's settings."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.checker.check import Check, CheckResult
from harness.checker.classify import ClassifiedCall, answer_marks, llm_calls, side_effects, tally, texts_within
from harness.checker.poisoned import poisoned_requests
from harness.history import History, Invocation, Request, StubCall

# What validation reports on, one row each (the glossary's bug classes).
BUG_CLASSES = (
    "duplicate_llm_call", "duplicate_side_effect", "duplicate_child_work", "non_determinism",
    "degraded_answer", "poisoned_journal", "retry_storm", "stuck_invocation",
)


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


def masked(value: Any, token: str) -> Any:
    """``value`` with the request's token masked, so answers of different requests compare."""
    if isinstance(value, str):
        return value.replace(token, "{token}")
    if isinstance(value, list):
        return [masked(v, token) for v in value]
    if isinstance(value, dict):
        return {k: masked(v, token) for k, v in value.items()}
    return value


def _duplicates(check: Check, calls: list[ClassifiedCall], what: str) -> CheckResult:
    dups = [c for c in calls if c.label == "duplicate"]
    # A side effect is named as its user knows it: the tool, its arguments, its service.
    why = "".join(f"; call #{d.call.id}" + (f" {d.call.describe()}" if isinstance(d.call, StubCall) else "")
                  + f": {d.reason}" for d in dups[:3])
    return check.result(not dups, f"{len(calls)} {what}(s), {len(dups)} duplicate(s){why}")


# --- safety: nothing lost, nothing done twice, the right answer committed -------------------


@dataclass(frozen=True)
class AllCompleted(Check):
    """Every invocation completed successfully, with ``answer`` as output if given."""

    name: ClassVar[str] = "all invocations completed"
    answer: str | None = None

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
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
        return self.result(
            not problems and bool(history.requests),
            f"{done}/{len(history.requests)} completed as expected" + (": " + "; ".join(problems[:5]) if problems else ""),
        )


@dataclass(frozen=True)
class FailedTerminally(Check):
    """Every invocation ended in a terminal failure whose message contains ``message``:
    the expected outcome when, say, the LLM stays down beyond ``max_attempts``."""

    name: ClassVar[str] = "failed terminally as expected"
    message: str = ""

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        invocations = history.invocation
        bad = []
        for request in history.requests:
            inv = invocations.get(request.invocation_id)
            if inv is None or not inv.done or inv.completion_result != "failure":
                bad.append(f"{request.invocation_id} is {inv.status if inv else 'missing'}/{inv.completion_result if inv else ''}")
            elif self.message not in (inv.completion_failure or ""):
                bad.append(f"{request.invocation_id} failed with {inv.completion_failure!r}")
        return self.result(not bad and bool(history.requests), "all failed terminally" if not bad else "; ".join(bad[:5]))


@dataclass(frozen=True)
class NoDuplicateLLMCalls(Check):
    """No LLM call was repeated after its answer was journaled or used."""

    name: ClassVar[str] = "no duplicate LLM calls"
    bug_class: ClassVar[str | None] = "duplicate_llm_call"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        return _duplicates(self, llm_calls(calls), "call")


@dataclass(frozen=True)
class NoDuplicateSideEffects(Check):
    """No side effect (a call to a stub such as the refunds API) was repeated after it had
    driven journaled progress: the same rules as for LLM calls, on the stubs' ledgers. With
    none made there is nothing to judge: ``required`` (a scenario that must make one) fails,
    otherwise the check was not exercised."""

    name: ClassVar[str] = "no duplicate side effects"
    bug_class: ClassVar[str | None] = "duplicate_side_effect"
    required: bool = True

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        effects = side_effects(calls)
        if not effects:
            return self.result(not self.required, "no side effect was made: nothing to judge", exercised=False)
        return _duplicates(self, effects, "call")


@dataclass(frozen=True)
class NoJournalMismatch(Check):
    """Restate never reported a journal mismatch (RT0016): the handler replayed
    deterministically. Non-determinism outside ``ctx.run`` shows up here on replay."""

    name: ClassVar[str] = "no journal mismatch"
    bug_class: ClassVar[str | None] = "non_determinism"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        mismatches = {
            inv: failure
            for inv, failures in history.samples.failures_seen.items()
            for failure in failures
            if "RT0016" in failure or "mismatch" in failure.lower()
        }
        return self.result(
            not mismatches,
            "deterministic replay" if not mismatches else "; ".join(f"{i}: {f[:400]}" for i, f in list(mismatches.items())[:3]),
        )


def _handler(target: str) -> str:
    """``Service/handler`` of an invocation target: a Virtual Object's or Workflow's key
    (``Service/key/handler``) differs per request, so children are counted by handler."""
    parts = target.split("/")
    return f"{parts[0]}/{parts[-1]}" if len(parts) > 2 else target


def children_per_target(history: History, request: Request) -> Counter[str]:
    """The child invocations one request started, by ``Service/handler``: callees through
    Restate (``invoked_by_id``) and invocations started over plain HTTP whose journal input
    carries the request's token (they have no parent in Restate's eyes)."""
    tree = set(history.tree_of(request.invocation_id))
    counts: Counter[str] = Counter(_handler(history.invocation[i].target) for i in tree if i != request.invocation_id)
    roots = {r.invocation_id for r in history.requests}
    for inv in history.invocations:
        if inv.id in tree or inv.id in roots or inv.invoked_by_id:
            continue
        if request.token in history.inputs.get(inv.id, ""):
            counts[_handler(inv.target)] += 1
    return counts


@dataclass(frozen=True)
class NoDuplicateChildWork(Check):
    """One request never starts a child handler more often than the baseline did (the
    journal's calls, plus children started over plain HTTP)."""

    name: ClassVar[str] = "no duplicate child work"
    bug_class: ClassVar[str | None] = "duplicate_child_work"
    baseline: tuple[tuple[str, int], ...] = ()  # (Service/handler, count) per request in the baseline

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        expected = dict(self.baseline)
        problems = []
        for request in history.requests:
            for target, n in children_per_target(history, request).items():
                if n > expected.get(target, 0):
                    problems.append(f"{request.invocation_id} started {target} {n} times, the baseline {expected.get(target, 0)}")
        return self.result(not problems, "; ".join(problems[:3]) or "as in the baseline")


@dataclass(frozen=True)
class SameAnswerAsBaseline(Check):
    """Differential: under a transient fault, every request that answered gave the
    baseline's answer (compared decoded, the token masked). A different committed answer is
    degraded; a request still running is the liveness checks' business, one that failed
    terminally ``FinishedDespiteTransientFaults``'s."""

    name: ClassVar[str] = "same answer as the baseline"
    bug_class: ClassVar[str | None] = "degraded_answer"
    baseline: Any = None

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        untokened = [c for c in history.llm_calls if c.token is None]
        if untokened and len(history.requests) > 1:
            # A prompt built only from an earlier answer carries no token; with several requests
            # in flight the fake cannot tell whose it is, so its answer (and every answer built
            # on it) differs from the baseline's through no fault of the agent.
            return self.result(True, f"{len(untokened)} LLM call(s) carried no token while {len(history.requests)} "
                                     "requests were in flight: answers not compared", exercised=False)
        problems = [f"{inv.id} answered {output!r}, the baseline {self.baseline!r}"
                    for _, inv, output in answered(history) if not same_answer(output, self.baseline)]
        return self.result(not problems, "; ".join(problems[:3]) or "the baseline's answer")


def answered(history: History) -> Iterator[tuple[Request, Invocation, Any]]:
    """Each request that succeeded, its invocation, and its answer with the token masked."""
    for request in history.requests:
        inv = history.invocation.get(request.invocation_id)
        if inv is not None and inv.succeeded:
            yield request, inv, masked(history.outputs.get(inv.id), request.token)


@dataclass(frozen=True)
class NoBadAnswerCommitted(Check):
    """Under bad answers (value faults), no request committed one: an answer that differs
    from the baseline's is empty, or carries the bad answer (its text, the truncated half,
    the refusal, the unoffered tool's name). Another different answer, from an agent that
    asked again within its conversation, is not the bad answer: the fake's auto answer
    depends on the whole conversation, so the retry's exchange changes it (that is
    ``SameAnswerAsBaseline``'s advisory under these faults)."""

    name: ClassVar[str] = "no bad answer committed"
    bug_class: ClassVar[str | None] = "degraded_answer"
    baseline: Any = None

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        flawed = [c for c in history.llm_calls if c.flaw is not None]
        if not flawed:
            return self.result(True, "no bad answer was given", exercised=False)
        problems = []
        for request, inv, output in answered(history):
            if same_answer(output, self.baseline):
                continue
            text = output if isinstance(output, str) else json.dumps(output)
            mine = [c for c in flawed if c.token in (None, request.token)]
            if _decoded(output) in (None, "", [], {}) or not text.strip():
                problems.append(f"{inv.id} committed an empty answer {output!r} after call #{mine[0].id if mine else '?'} "
                                f"gave a bad answer ({mine[0].flaw if mine else '?'})")
                continue
            for call in mine:
                marks = {m.replace(request.token, "{token}") for m in answer_marks(call)} | (
                    {call.tool_called} if call.tool_called else set())
                if any(mark in inner for mark in marks for inner in texts_within(text)):
                    problems.append(f"{inv.id} committed call #{call.id}'s bad answer ({call.flaw}): {output!r}, "
                                    f"the baseline {self.baseline!r}")
                    break
        return self.result(not problems, "; ".join(problems[:3]) or f"{len(flawed)} bad answer(s), none committed",
                           advice=_BAD_ANSWER_FIX if problems else "")


# Nothing was caught here: the bad answer passed for a good one (LangChain, for one, turns
# arguments that do not parse into ``invalid_tool_calls`` and ends its loop on the empty message).
_BAD_ANSWER_FIX = (
    "check the model's answer inside the step that asked for it and raise there, so Restate asks the model again "
    "and the bad answer is never journaled: the finish reason, an empty content, each tool call's arguments "
    "(`json.loads` them). With LangChain's `create_agent`, a middleware after `RestateMiddleware` that raises on "
    "`invalid_tool_calls` (agents/validation/langchain_openai_router); where the provider enforces them, strict tools "
    "and schemas (`strict: true`) rule malformed arguments out")


@dataclass(frozen=True)
class FinishedDespiteTransientFaults(Check):
    """An advisory: under faults that heal, no request failed terminally. Giving up is the
    agent's choice (its steps' retry bounds), a cost rather than lost or repeated work; and a
    bound can be spent by attempts that were not the step's fault (seen with restate-sdk
    1.3: a step with ``max_attempts=4`` failed on its first failure, after the invocation's
    attempts had reached 7 while the killed agent restarted)."""

    name: ClassVar[str] = "no terminal failure under transient faults"
    bug_class: ClassVar[str | None] = "degraded_answer"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        # A request that failed on a journaled bad answer is the poisoned_journal finding's (the
        # cause, with its evidence), not a retry bound's cost.
        poisoned = poisoned_requests(history, calls)
        failed = [inv for r in history.requests if (inv := history.invocation.get(r.invocation_id)) is not None
                  and inv.done and inv.completion_result == "failure" and inv.id not in poisoned]
        if not failed:
            return self.result(True, "no request failed terminally")
        return self.result(
            False,
            f"{len(failed)} request(s) failed terminally under faults that healed: {failed[0].completion_failure}",
            advice="bound steps by time rather than by a few attempts (`RunOptions(max_duration=...)`): the "
                   "invocation's failed attempts, e.g. while the agent was down, can count toward `max_attempts`",
        )


@dataclass(frozen=True)
class NoAcknowledgedRequestLost(Check):
    """Every request Restate acknowledged (its send returned an invocation id) is still
    there once the faults are over: its invocation row exists and it completed (with
    either outcome: the answer is other checks' business). A row missing after a node
    crashed or was cut off means the cluster lost an acknowledged write."""

    name: ClassVar[str] = "no acknowledged request lost"
    bug_class: ClassVar[str | None] = "lost_request"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        acknowledged = [r for r in history.requests if r.invocation_id]
        invocations = history.invocation
        lost = [r.invocation_id for r in acknowledged if r.invocation_id not in invocations]
        unfinished = [f"{r.invocation_id} is {invocations[r.invocation_id].status}" for r in acknowledged
                      if r.invocation_id in invocations and not invocations[r.invocation_id].done]
        problems = [f"{i} is missing" for i in lost] + unfinished
        return self.result(
            bool(acknowledged) and not problems,
            f"{len(acknowledged)} acknowledged, {len(lost)} lost, {len(unfinished)} not completed"
            + (": " + "; ".join(problems[:5]) if problems else ""),
        )


# --- the catalogue's bookkeeping: what its scripted scenarios expect -------------------------


@dataclass(frozen=True)
class Wasted(Check):
    """The number of wasted LLM calls: ``exactly`` n, or between ``at_least`` and ``at_most``."""

    name: ClassVar[str] = "wasted LLM calls"
    exactly: int | None = None
    at_least: int = 0
    at_most: int | None = None

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        n = tally(llm_calls(calls))["wasted"]
        if self.exactly is not None:
            ok, want = n == self.exactly, f"exactly {self.exactly}"
        else:
            ok = n >= self.at_least and (self.at_most is None or n <= self.at_most)
            want = f"{self.at_least}..{self.at_most if self.at_most is not None else '∞'}"
        return self.result(ok, f"{n} wasted, expected {want}")


@dataclass(frozen=True)
class WastedExplainedByFaults(Check):
    """Every wasted call is explained: it overlapped a fault window, it was itself an
    outside failure (an LLM error, a cut), or Restate recorded a failed attempt of its
    request (e.g. an inactivity timeout under load). An unexplained retry means the agent
    or its SDK repeated work on its own, behind Restate's back."""

    name: ClassVar[str] = "wasted calls explained by faults"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
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
        return self.result(
            not unexplained,
            "all explained" if not unexplained else f"calls {[c.call.id for c in unexplained][:20]} were retried with no fault and no failed attempt",
        )


@dataclass(frozen=True)
class StepsOnce(Check):
    """Every journaled step of a completed invocation completed, with exactly one result.
    Steps are told apart by their journal index, not their name: frameworks reuse names."""

    name: ClassVar[str] = "steps once and completed"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        problems = []
        for step in history.steps:
            if not history.invocation.get(step.invocation_id, _MISSING).done:
                continue
            if step.completions > 1:
                problems.append(f"{step.invocation_id}: {step.describe()} has {step.completions} results")
            elif not step.completed:
                problems.append(f"{step.invocation_id}: {step.describe()} never completed")
        return self.result(not problems, "; ".join(problems[:5]) or "ok")


_MISSING = Invocation("", "missing")


@dataclass(frozen=True)
class RetriesPlausible(Check):
    """Restate retried between ``at_least`` and ``at_most`` times. Read from the highest
    ``retry_count`` seen while the run was going (completed rows no longer carry it);
    on 1.7 it counts attempts, so it is 1 while the first attempt runs."""

    name: ClassVar[str] = "retry count plausible"
    at_least: int = 0
    at_most: int = 20

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        counts = history.samples.max_retry_count or {}
        retries = max((max(0, n - 1) for n in counts.values()), default=0)
        ok = self.at_least <= retries <= self.at_most
        return self.result(ok, f"{retries} retries, expected {self.at_least}..{self.at_most}")


@dataclass(frozen=True)
class SlowedDown(Check):
    """The run took at least ``seconds`` from the first request to the last completion:
    proof that a slowing fault (latency, bandwidth) was actually in the path."""

    name: ClassVar[str] = "fault slowed the run"
    seconds: float = 0.0

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        done = [i.completed_at for i in history.invocations if i.completed_at is not None]
        took = (max(done) - history.started_at) if done else 0.0
        return self.result(took >= self.seconds, f"took {took:.2f}s, expected ≥ {self.seconds:g}s")


@dataclass(frozen=True)
class CallTree(Check):
    """Remote routing held together: each caller has exactly one callee invocation per
    ``Command: Call`` in its journal (none lost, none doubled by a crash while the call was
    in flight), every callee completed, and the caller answered with its callee's answer."""

    name: ClassVar[str] = "call tree intact"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
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
        return self.result(not problems and bool(history.requests), "; ".join(problems[:5]) or "one callee per call, all completed, answers passed up")


@dataclass(frozen=True)
class OneInvocationPerRequest(Check):
    """Each request (idempotency key) created exactly one invocation, however often the
    workload had to resend it: the ingress's idempotency held."""

    name: ClassVar[str] = "one invocation per request"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        per_key: dict[str, int] = {}
        for row in history.keyed_invocations:
            key = row.idempotency_key or ""
            per_key[key] = per_key.get(key, 0) + 1
        bad = {r.idempotency_key: per_key.get(r.idempotency_key, 0) for r in history.requests if per_key.get(r.idempotency_key, 0) != 1}
        return self.result(
            not bad and bool(history.requests),
            "each idempotency key made one invocation" if not bad else f"invocations per key: {bad}",
        )

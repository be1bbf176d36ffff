"""The poisoned journal: a bug class only durable execution has.

An agent that journals the LLM's raw answer in a step and parses or validates it *outside*
that step keeps one bad answer for good: every retry replays the journaled text and fails
on it again, so the invocation can never recover, even once the LLM answers well. Inside
the step, the same parse would have failed the step, and Restate would have asked again.

Read from the history alone: a transient value fault (a bad answer, not an error) was aimed
at an LLM call; the step that made the call journaled that answer; the call was never made
again; and the invocation went no further than that step, failing on it every attempt
after (or failing terminally there). The liveness and degraded-answer checks leave such an
invocation to this one (``poisoned_requests``): it is the cause, its being stuck the symptom.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

from harness.checker.check import Check, CheckResult
from harness.checker.classify import ClassifiedCall, classify_history, llm_calls
from harness.history import FaultRecord, History, Invocation, Step

# The nemesis's value faults (harness.nemesis.faults.VALUE_FAULTS): the LLM answers, with a
# 200, something the agent must not take as is. Named here, as checks import no nemesis.
VALUE_FAULT_KINDS = frozenset({
    "llm_empty", "llm_truncated", "llm_refusal", "llm_bad_tool_args", "llm_schema_violation",
    "llm_wrong_tool", "llm_stream_early_end",
})
# A replayed journal needs a retry to show: the attempt that journaled the bad answer, and at
# least one more that replayed it and failed at the same place.
_ATTEMPTS = 2
_SHOWN = 200  # characters of a journaled answer or an error quoted in the evidence
# The one command that may follow a poisoned step without being progress past it: a terminal
# failure's output. (Notifications complete commands journaled before; they are no progress.)
_NOT_PROGRESS = "Command: Output"


@dataclass(frozen=True)
class Poisoning:
    """One invocation poisoned by one journaled answer: the evidence a finding names."""

    request_id: str  # the root invocation of the request it belongs to
    invocation: Invocation  # the invocation whose journal holds the step (the root or a callee)
    step: Step
    call_id: int
    fault: str  # the fault's kind
    flaw: str | None  # the bad answer the fake gave, as its ledger named it
    error: str  # the failure raised after the step, as Restate recorded it
    attempts: int  # the most attempts Restate counted

    def describe(self) -> str:
        value = _unquoted(self.step.value or self.step.result or "")
        shown = value if len(value) <= _SHOWN else value[:_SHOWN] + "…"
        ending = (f"failed terminally after it: {self.error[:_SHOWN]}" if self.invocation.done
                  else f"is still {self.invocation.status} after {self.attempts} attempts, each failing after it: "
                       f"{self.error[:_SHOWN]}")
        return (f"{self.invocation.id} ({self.invocation.target}): {self.step.describe()} journaled LLM call "
                f"#{self.call_id}'s bad answer ({self.flaw or self.fault}) {shown!r}; the call was never made again, "
                f"and the invocation {ending}")


def _unquoted(value: str) -> str:
    """A step that returned the answer's text journals it as a JSON string: shown as the text."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def poisonings(history: History, calls: list[ClassifiedCall] | None = None) -> list[Poisoning]:
    """Every invocation of the run that a journaled bad answer keeps from finishing."""
    faults = {str(f.detail.get("rule_id")): f for f in history.faults
              if f.kind in VALUE_FAULT_KINDS and f.detail.get("rule_id") is not None}
    if not faults:
        return []
    calls = classify_history(history) if calls is None else calls
    root_of = {i: r.invocation_id for r in history.requests for i in history.tree_of(r.invocation_id)}
    answered = llm_calls(calls)
    found: dict[str, Poisoning] = {}
    for classified in answered:
        fault = faults.get(str(classified.call.rule_id)) if classified.call.rule_id is not None else None
        step = classified.step
        if fault is None or step is None or classified.label != "committed":
            continue  # not a bad answer, or one no step journaled (the step raised: Restate asked again)
        poisoning = _poisoned(history, answered, classified, step, fault, root_of.get(step.invocation_id))
        if poisoning is not None:
            found.setdefault(poisoning.invocation.id, poisoning)
    return list(found.values())


def poisoned_requests(history: History, calls: list[ClassifiedCall] | None = None) -> set[str]:
    """The requests (root invocation ids) a poisoned journal explains: the liveness and the
    degraded-answer checks judge the others only, so this class is reported alone."""
    return {p.request_id for p in poisonings(history, calls)}


def _poisoned(history: History, answered: list[ClassifiedCall], classified: ClassifiedCall, step: Step,
              fault: FaultRecord, request_id: str | None) -> Poisoning | None:
    inv = history.invocation.get(step.invocation_id)
    if inv is None or request_id is None or inv.succeeded or fault.undone_at is None:
        return None  # it finished (the answer was handled), or the fault never healed
    call = classified.call
    done = step.completed_at or 0.0
    # Asked again after the step: the bad answer was not kept (a framework re-asking, say).
    if any(c.call.fingerprint == call.fingerprint and c.call.token == call.token and c.call.arrived_at > done
           for c in answered if c.call.id != call.id):
        return None
    # The handler got past the step: whatever stopped it later is not this answer's doing.
    if any(e.appended_at > done and e.entry_type.startswith("Command") and e.entry_type != _NOT_PROGRESS
           for e in history.journal_of(inv.id)):
        return None
    failures = history.samples.failures_seen.get(inv.id, [])
    error = (inv.completion_failure if inv.done else None) or inv.last_failure or (failures[-1] if failures else None)
    attempts = max(history.samples.max_retry_count.get(inv.id, 0), inv.retry_count)
    if not error or (not inv.done and attempts < _ATTEMPTS):
        return None  # no failure after it, or not yet retried: nothing replayed it
    error = error.split("Traceback (most recent call last)")[0].strip()  # the message, not the SDK's stack
    return Poisoning(request_id, inv, step, call.id, fault.kind, call.flaw, error, attempts)


@dataclass(frozen=True)
class NoPoisonedJournal(Check):
    """No journaled bad answer keeps an invocation from finishing once the LLM answers well
    again: the answer is parsed and validated inside the step that asked for it, so a bad
    one fails the step and Restate asks again. Not exercised when no value fault was applied."""

    name: ClassVar[str] = "no poisoned journal"
    bug_class: ClassVar[str | None] = "poisoned_journal"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        applied = [f for f in history.faults if f.kind in VALUE_FAULT_KINDS]
        if not applied:
            return self.result(True, "no bad answer was given: nothing to judge", exercised=False)
        found = poisonings(history, calls)
        if not found:
            return self.result(True, f"{len(applied)} bad answer fault(s); no invocation kept a bad answer it "
                                     "could not get past")
        return self.result(False, "; ".join(p.describe() for p in found[:3]))

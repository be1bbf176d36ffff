"""Classify every call to an outside service (LLM calls, side effects on stubs) as
committed, wasted or duplicate.

Calls are grouped per request (by correlation token) and per logical call (by request
fingerprint: identical requests are attempts of the same call). Each group is then judged
against the request's journal (the whole call tree's):

- If the group is a journaled step — a ``Run`` whose result was journaled right after one
  of the group's answers — an attempt that arrives after that result was journaled is a
  **duplicate**; the attempt whose answer was journaled is **committed**; the others are
  **wasted** (a fault hit them before their answer was journaled, so the retry was
  legitimate). Attempts before the step's result count as wasted even if entries were
  journaled after their answer: a lost attempt's commands are re-journaled by the next one.
- Otherwise the call was made outside ``ctx.run``: an attempt is a **duplicate** when an
  earlier attempt had answered and the journal shows progress (any entry) after that
  answer and before this attempt — progress the answer drove. The last attempt followed by
  progress is **committed**; the rest are **wasted**.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from harness.history import CallKind, History, JournalEntry, LedgerCall, Step, steps_of

CallClass = Literal["committed", "wasted", "duplicate"]

# Ledger times are float seconds, Restate's are whole milliseconds: an entry appended in
# the same millisecond as an answer finished counts as after it.
_CLOCK_SLACK_S = 0.001
# The fake LLM stamps a call when its handler runs, which under load is a millisecond or
# two after the agent sent it; Restate has been seen journaling a retried call's own result
# 1 ms "before" the call's stamp. Progress must precede a repeat by this margin to count.
# Real duplicates follow a restart or replay, hundreds of milliseconds later.
_ARRIVAL_SLACK_S = 0.05


@dataclass(frozen=True)
class ClassifiedCall:
    call: LedgerCall
    invocation_id: str | None
    attempt: int  # 1-based within its logical call
    label: CallClass
    reason: str
    kind: CallKind = "llm"  # or "side_effect": a call to a recording stub
    step: Step | None = None  # the journaled step whose result this call's answer became


def classify_history(history: History) -> list[ClassifiedCall]:
    """Classify every call of the run (LLM calls and side effects) against each request's
    journal. A call tree shares the request's token, so a call is judged against the whole
    tree's journal: progress anywhere in it was driven by the answers before it."""
    journals = {r.invocation_id: history.tree_journal(r.invocation_id) for r in history.requests}
    invocation_of = {r.token: r.invocation_id for r in history.requests}
    side_effects = {id(c) for c in history.stub_calls}
    classified = classify([*history.llm_calls, *history.stub_calls], journals, invocation_of)
    return [replace(c, kind="side_effect") if id(c.call) in side_effects else c for c in classified]


def llm_calls(calls: Sequence[ClassifiedCall]) -> list[ClassifiedCall]:
    return [c for c in calls if c.kind == "llm"]


def side_effects(calls: Sequence[ClassifiedCall]) -> list[ClassifiedCall]:
    return [c for c in calls if c.kind == "side_effect"]


def _progress_between(journal: list[JournalEntry], start: float, end: float) -> JournalEntry | None:
    for entry in journal:
        if start - _CLOCK_SLACK_S <= entry.appended_at < end:
            return entry
    return None


# An answer is stamped after its last byte was sent; the agent may have journaled it a
# moment before that stamp. Seen: 1 ms. The next step's call finished 47 ms after a result.
_RESULT_AFTER_ANSWER_SLACK_S = 0.005


def _step_owners(calls: Sequence[LedgerCall], journal: list[JournalEntry]) -> dict[str, tuple[Step, LedgerCall]]:
    """Which fingerprint each completed Run step journaled, and the call whose answer it was:
    the answer that finished closest to the step's result, after the step's command. Calls
    of every ledger compete, so a side effect finishing inside an LLM step is not taken
    for that step's answer."""
    owners: dict[str, tuple[Step, LedgerCall]] = {}
    steps = sorted((s for s in steps_of(journal) if s.completed_at is not None), key=lambda s: s.completed_at or 0.0)
    for step in steps:
        done = step.completed_at or 0.0
        answered = [
            c
            for c in calls
            if c.outcome == "ok"
            and c.finished_at is not None
            and c.fingerprint not in owners
            and step.started_at - _ARRIVAL_SLACK_S <= c.finished_at <= done + _RESULT_AFTER_ANSWER_SLACK_S
        ]
        if answered:
            closest = min(answered, key=lambda c: abs((c.finished_at or 0.0) - done))
            owners[closest.fingerprint] = (step, closest)
    return owners


def classify(
    calls: Sequence[LedgerCall], journals: dict[str, list[JournalEntry]], invocation_of: dict[str, str]
) -> list[ClassifiedCall]:
    """``journals`` maps invocation id to its (tree's) entries; ``invocation_of`` maps token to invocation id."""
    by_token: dict[str | None, list[LedgerCall]] = defaultdict(list)
    for call in sorted(calls, key=lambda c: (c.arrived_at, c.id)):
        by_token[call.token].append(call)

    result: list[ClassifiedCall] = []
    for token, token_calls in by_token.items():
        invocation_id = invocation_of.get(token) if token else None
        journal = journals.get(invocation_id, []) if invocation_id else []
        owners = _step_owners(token_calls, journal)
        groups: dict[str, list[LedgerCall]] = defaultdict(list)
        for call in token_calls:
            groups[call.fingerprint].append(call)
        for fingerprint, attempts in groups.items():
            if fingerprint in owners:
                labels = _judge_step(attempts, *owners[fingerprint])
            else:
                labels = _judge_unjournaled(attempts, journal)
            for i, (attempt, (label, reason)) in enumerate(zip(attempts, labels)):
                if label == "wasted" and attempt.outcome != "ok":
                    reason = f"the call ended '{attempt.outcome}' (status {attempt.status}); a retry was legitimate"
                elif label == "wasted" and attempt.finished_at is None:
                    reason = "cut off before it answered"
                step = owners[fingerprint][0] if fingerprint in owners else None
                result.append(ClassifiedCall(attempt, invocation_id, i + 1, label, reason, step=step))
    return sorted(result, key=lambda c: c.call.id)


def _judge_step(attempts: list[LedgerCall], step: Step, committed: LedgerCall) -> list[tuple[CallClass, str]]:
    done = step.completed_at or 0.0
    committed_id = committed.id
    labels: list[tuple[CallClass, str]] = []
    for attempt in attempts:
        if attempt is committed:
            labels.append(("committed", f"its answer was journaled as the result of {step.describe()}"))
        elif attempt.arrived_at > done + _ARRIVAL_SLACK_S:
            labels.append(
                ("duplicate", f"{step.describe()} had already journaled call #{committed_id}'s answer before this call")
            )
        else:
            labels.append(("wasted", "superseded by a retry: its answer was never journaled"))
    return labels


def _judge_unjournaled(attempts: list[LedgerCall], journal: list[JournalEntry]) -> list[tuple[CallClass, str]]:
    labels: list[tuple[CallClass, str]] = []
    for i, attempt in enumerate(attempts):
        repeated_after = None
        for earlier in attempts[:i]:
            if earlier.finished_at is None or earlier.outcome != "ok":
                continue
            entry = _progress_between(journal, earlier.finished_at, attempt.arrived_at - _ARRIVAL_SLACK_S)
            if entry is not None:
                repeated_after = (earlier, entry)
                break
        if repeated_after is not None:
            earlier, entry = repeated_after
            labels.append(
                (
                    "duplicate",
                    f"call #{earlier.id} had already answered, and the journal recorded "
                    f"{entry.describe()} after that answer, before this call",
                )
            )
        else:
            labels.append(("wasted", "superseded by a retry: its answer was never journaled"))
    # The committed attempt: the last non-duplicate one that answered and was followed by progress.
    for i in range(len(attempts) - 1, -1, -1):
        attempt = attempts[i]
        if labels[i][0] == "duplicate" or attempt.outcome != "ok" or attempt.finished_at is None:
            continue
        if _progress_between(journal, attempt.finished_at, float("inf")) is not None or not journal:
            labels[i] = ("committed", "its answer was used: the journal progressed after it")
            break
    return labels


def tally(calls: Sequence[ClassifiedCall]) -> dict[str, int]:
    """How many calls fell in each class."""
    counts = {"committed": 0, "wasted": 0, "duplicate": 0}
    for call in calls:
        counts[call.label] += 1
    return counts

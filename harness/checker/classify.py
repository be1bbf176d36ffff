"""Classify every call to an outside service (LLM calls, side effects on stubs) as
committed, wasted or duplicate.

Calls are grouped per request (by correlation token) and per logical call (by request
fingerprint: identical requests are attempts of the same call). Each group is then judged
against the request's journal (the whole call tree's):

- If the group is a journaled step — a ``Run`` whose result was journaled right after one
  of the group's answers — the attempt whose answer was journaled is **committed**; an
  attempt that arrives after that result was journaled, outside every step that journaled
  one of the group's answers, is a **duplicate**; the others are **wasted** (a fault hit
  them before their answer was journaled, so the retry was legitimate). Attempts before the
  step's result count as wasted even if entries were journaled after their answer: a lost
  attempt's commands are re-journaled by the next one. Several steps may journal answers
  to one request: an agent that rejects a bad answer after its step asks again in a new
  step, and each step's answer is committed.
- Otherwise the call was made outside ``ctx.run``: an attempt is a **duplicate** when an
  earlier attempt had answered and the journal shows progress (any entry) after that
  answer and before this attempt — progress the answer drove. The last attempt followed by
  progress is **committed**; the rest are **wasted**.
"""

from __future__ import annotations

import json
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
# moment before that stamp. Seen: 1 ms, and under load (8 requests at once, two test
# workers) more than 5 ms. A call that *arrived* after the result cannot be its answer (the
# next step's call arrived 43 ms after a result and finished 47 ms after it), so arrivals
# are held to the tight bound and answers to the loose one.
_RESULT_AFTER_ANSWER_SLACK_S = 0.005
_ANSWER_STAMP_LAG_S = 0.05


# Strings of an answer that can tie it to the step that journaled it: texts, arguments and
# ids. Shorter ones (once the request's token is taken out) say too little to tell answers apart.
_MARK_KEYS = frozenset({"content", "text", "arguments", "id", "call_id"})
_MIN_MARK = 6


def answer_marks(call: LedgerCall) -> frozenset[str]:
    """The distinctive strings of a call's answer (an LLM answer's texts, tool-call
    arguments and ids). Empty for calls whose answer is not recorded (a stub's)."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in _MARK_KEYS and isinstance(inner, str):
                    found.add(inner)
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(getattr(call, "response", None))
    token = call.token or "\0"
    return frozenset(m for m in found if len(m.replace(token, "").strip()) >= _MIN_MARK)


def texts_within(value: str) -> list[str]:
    """A journaled value and every string inside it, JSON decoded at any depth: an answer
    journaled whole, or as one field of a model's JSON."""
    texts, pending = [value], [value]
    while pending:
        try:
            decoded = json.loads(pending.pop())
        except ValueError:
            continue
        stack = [decoded]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                texts.append(item)
                pending.append(item)
            elif isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    return texts


def _journaled(call: LedgerCall, step: Step) -> bool:
    """Does the step's journaled value carry this call's answer?"""
    if step.value is None:
        return False
    texts = texts_within(step.value)
    return any(mark in text for mark in answer_marks(call) for text in texts)


@dataclass(frozen=True)
class _Owners:
    """Which calls completed steps journaled, by fingerprint, in the order the steps
    completed; and the steps that could not be tied to one call (parallel calls in their
    window, no value that names one)."""

    of: dict[str, list[tuple[Step, LedgerCall]]]
    untied: list[Step]


def _step_owners(calls: Sequence[LedgerCall], journal: list[JournalEntry]) -> _Owners:
    """Which fingerprint each completed Run step journaled, and the call whose answer it was.

    Candidates are the answers that finished inside the step's window (after its command,
    by its result). The journaled value decides between them: parallel steps finish in any
    order, so neither arrival nor finishing order says which answer a result holds. Among
    attempts of the same call (same fingerprint, same answer) the one that finished closest
    to the result is taken, and so it is for a step that ran alone when no value names a
    call. A step that ran beside others, with answers of several calls in its window and no
    value naming one, is left untied rather than guessed. Calls of every ledger compete, so
    a side effect finishing inside an LLM step is not taken for that step's answer."""
    owners: dict[str, list[tuple[Step, LedgerCall]]] = defaultdict(list)
    owned: set[int] = set()
    untied: list[Step] = []
    every = steps_of(journal)
    steps = sorted((s for s in every if s.completed_at is not None), key=lambda s: s.completed_at or 0.0)
    for step in steps:
        done = step.completed_at or 0.0
        answered = [
            c
            for c in calls
            if c.outcome == "ok"
            and c.finished_at is not None
            and id(c) not in owned
            and c.arrived_at <= done + _RESULT_AFTER_ANSWER_SLACK_S
            and step.started_at - _ARRIVAL_SLACK_S <= c.finished_at <= done + _ANSWER_STAMP_LAG_S
        ]
        matching = [c for c in answered if _journaled(c, step)]
        if not matching and len({c.fingerprint for c in answered}) > 1 and _beside_others(step, every):
            untied.append(step)
            continue
        candidates = matching or answered
        if candidates:
            closest = min(candidates, key=lambda c: abs((c.finished_at or 0.0) - done))
            owners[closest.fingerprint].append((step, closest))
            owned.add(id(closest))
    return _Owners(dict(owners), untied)


def _beside_others(step: Step, steps: Sequence[Step]) -> bool:
    """Did another step of the same journal run while this one did (parallel steps)?"""
    end = step.completed_at or float("inf")
    return any(other is not step and other.started_at < end and step.started_at < (other.completed_at or float("inf"))
               for other in steps)


def _inside(call: LedgerCall, steps: Sequence[Step]) -> Step | None:
    """The first of ``steps`` whose window (command to result) the call arrived in."""
    for step in steps:
        if step.started_at - _ARRIVAL_SLACK_S <= call.arrived_at <= (step.completed_at or float("inf")):
            return step
    return None


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
            # Its first attempt decides: a call first made outside every step is judged as such,
            # even when a retry of it falls inside a step whose window spans the crash.
            untied = _inside(attempts[0], owners.untied)
            if fingerprint in owners.of:
                labels = _judge_step(attempts, owners.of[fingerprint])
            elif untied is not None:  # a step's call, but which answer it journaled is unknown: no verdict of duplicate
                labels = [("wasted", f"made inside {untied.describe()}, whose result could not be tied to one call")
                          for _ in attempts]
            else:
                labels = _judge_unjournaled(attempts, journal)
            steps = owners.of.get(fingerprint, [])
            for i, (attempt, (label, reason)) in enumerate(zip(attempts, labels)):
                if label == "wasted" and attempt.outcome != "ok":
                    reason = f"the call ended '{attempt.outcome}' (status {attempt.status}); a retry was legitimate"
                elif label == "wasted" and attempt.finished_at is None:
                    reason = "cut off before it answered"
                # The step that journaled this attempt's answer, or else the group's first one.
                step = next((s for s, c in steps if c is attempt), steps[0][0] if steps else None)
                result.append(ClassifiedCall(attempt, invocation_id, i + 1, label, reason, step=step))
    return sorted(result, key=lambda c: c.call.id)


def _judge_step(attempts: list[LedgerCall], owned: list[tuple[Step, LedgerCall]]) -> list[tuple[CallClass, str]]:
    """``owned``: the steps that journaled an answer to this request, and whose answer each holds."""
    labels: list[tuple[CallClass, str]] = []
    for attempt in attempts:
        mine = next((step for step, call in owned if call is attempt), None)
        if mine is not None:
            labels.append(("committed", f"its answer was journaled as the result of {mine.describe()}"))
            continue
        # A retry inside a step that went on to journal another attempt's answer is that step's business.
        inside = any(step.started_at - _ARRIVAL_SLACK_S <= attempt.arrived_at <= (step.completed_at or 0.0)
                     for step, _ in owned)
        before = [(step, call) for step, call in owned if attempt.arrived_at > (step.completed_at or 0.0) + _ARRIVAL_SLACK_S]
        if before and not inside:
            step, call = before[-1]
            labels.append(("duplicate", f"{step.describe()} had already journaled call #{call.id}'s answer before this call"))
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
            # The ledger stamps an answer when the server got round to it: under load, Restate has
            # journaled what the answer drove 10 ms before the stub's stamps (seen in CI: a refund
            # stamped as arriving 2.6 ms after the step that followed it began). Progress counts
            # from the call's arrival, or from 50 ms before its answer's stamp, whichever is later.
            since = max(earlier.arrived_at - _RESULT_AFTER_ANSWER_SLACK_S, earlier.finished_at - _ANSWER_STAMP_LAG_S)
            entry = _progress_between(journal, since, attempt.arrived_at - _ARRIVAL_SLACK_S)
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

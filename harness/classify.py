"""Classify every LLM call as committed, wasted or duplicate.

Calls are grouped per request (by correlation token) and per logical call (by request
fingerprint: identical prompts are attempts of the same call). Within a group, in
arrival order:

- **duplicate**: an earlier attempt had already finished answering, and the invocation's
  journal shows progress after that answer and before this attempt arrived. That
  progress is either the answer's own Run result or a later entry the answer drove; the
  latter is what catches calls made outside ``ctx.run``, which have no Run entry.
- **committed**: the attempt whose answer the invocation went on with (the last
  non-duplicate attempt that answered and was followed by journal progress).
- **wasted**: every other attempt: a fault hit it before its answer was journaled, so a
  retry was legitimate.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from .journal import JournalEntry

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .observation import Observation

CallClass = Literal["committed", "wasted", "duplicate"]

# Ledger times are float seconds, Restate's are whole milliseconds: an entry appended in
# the same millisecond as an answer finished counts as after it.
_CLOCK_SLACK_S = 0.001
# The fake LLM stamps a call when its handler runs, which under load is a millisecond or
# two after the agent sent it; Restate has been seen journaling a retried call's own result
# 1 ms "before" the call's stamp. Progress must precede a repeat by this margin to count.
# Real duplicates follow a restart or replay, hundreds of milliseconds later.
_ARRIVAL_SLACK_S = 0.05


class LedgerCall(Protocol):
    """A recorded call to an outside service: an LLM call, or a side effect on a stub."""

    @property
    def id(self) -> int: ...
    @property
    def arrived_at(self) -> float: ...
    @property
    def finished_at(self) -> float | None: ...
    @property
    def token(self) -> str | None: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def status(self) -> int | None: ...
    @property
    def disconnected_at(self) -> float | None: ...


@dataclass(frozen=True)
class ClassifiedCall:
    call: LedgerCall
    invocation_id: str | None
    attempt: int  # 1-based within its logical call
    label: CallClass
    reason: str


def classify_observed(calls: "Sequence[LedgerCall]", obs: "Observation") -> list[ClassifiedCall]:
    """Classify calls against each request's journal. A call tree shares the request's
    token, so a call is judged against the whole tree's journal: progress anywhere in it
    was driven by the answers before it."""
    journals = {r.invocation_id: obs.tree_journal(r.invocation_id) for r in obs.requests}
    return classify(calls, journals, {r.token: r.invocation_id for r in obs.requests})


def _progress_between(journal: list[JournalEntry], start: float, end: float) -> JournalEntry | None:
    for entry in journal:
        if start - _CLOCK_SLACK_S <= entry.appended_at < end:
            return entry
    return None


def classify(
    calls: "Sequence[LedgerCall]", journals: dict[str, list[JournalEntry]], invocation_of: dict[str, str]
) -> list[ClassifiedCall]:
    """``journals`` maps invocation id to its entries; ``invocation_of`` maps token to invocation id."""
    groups: dict[tuple[str | None, str], list[LedgerCall]] = defaultdict(list)
    for call in sorted(calls, key=lambda c: (c.arrived_at, c.id)):
        groups[(call.token, call.fingerprint)].append(call)

    result: list[ClassifiedCall] = []
    for (token, _), attempts in groups.items():
        invocation_id = invocation_of.get(token) if token else None
        journal = journals.get(invocation_id, []) if invocation_id else []
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
                        f"'{entry.entry_type}{' ' + entry.name if entry.name else ''}' (index {entry.index}) "
                        f"after that answer, before this call",
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
                labels[i] = ("committed", "its answer was journaled or used")
                break
        for i, attempt in enumerate(attempts):
            label, reason = labels[i]
            if label == "wasted" and attempt.outcome != "ok":
                reason = f"the LLM call ended '{attempt.outcome}' (status {attempt.status}); a retry was legitimate"
            elif label == "wasted" and attempt.finished_at is None:
                reason = "cut off before it answered"
            result.append(ClassifiedCall(attempt, invocation_id, i + 1, label, reason))
    return sorted(result, key=lambda c: c.call.id)

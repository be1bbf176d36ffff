"""What a run left behind, gathered once at its end: the fake LLM's ledger, Restate's
``sys_invocation`` and ``sys_journal`` rows, the outputs, and the fault records. The
checker reads only this, so it is a pure function and can be unit-tested on fixtures."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .fake_llm import LLMCall
from .faults import FaultRecord
from .journal import Invocation, JournalEntry, RunStep, entries, steps_of
from .stubs.refunds import SideEffectCall
from .workload import Request


@dataclass
class Observation:
    requests: list[Request]
    calls: list[LLMCall]
    invocation_rows: list[dict[str, Any]]
    journal_rows: list[dict[str, Any]]
    outputs: dict[str, Any]  # invocation id (roots and callees) -> decoded output
    faults: list[FaultRecord]
    started_at: float
    max_retry_count: dict[str, int] = field(default_factory=dict)  # sampled while running
    statuses_seen: dict[str, list[str]] = field(default_factory=dict)  # sampled while running
    failures_seen: dict[str, list[str]] = field(default_factory=dict)  # "code: message", sampled while running
    side_effect_calls: list[SideEffectCall] = field(default_factory=list)  # from the stubs' ledgers
    keyed_invocation_rows: list[dict[str, Any]] = field(default_factory=list)  # by the requests' idempotency keys

    # Derived views are computed once: checks and the classifier read them per request, and
    # a soak has hundreds of requests over thousands of journal rows.

    @cached_property
    def invocations(self) -> dict[str, Invocation]:
        return {row["id"]: Invocation.from_row(row) for row in self.invocation_rows}

    @cached_property
    def journal(self) -> list[JournalEntry]:
        return entries(self.journal_rows)

    @cached_property
    def steps(self) -> list[RunStep]:
        return steps_of(self.journal)

    @cached_property
    def _journal_by_invocation(self) -> dict[str, list[JournalEntry]]:
        grouped: dict[str, list[JournalEntry]] = {}
        for entry in self.journal:
            grouped.setdefault(entry.invocation_id, []).append(entry)
        return grouped

    @cached_property
    def _callees(self) -> dict[str, list[str]]:
        children: dict[str, list[str]] = {}
        for row in self.invocation_rows:
            if parent := row.get("invoked_by_id"):
                children.setdefault(parent, []).append(row["id"])
        return children

    def journal_of(self, invocation_id: str) -> list[JournalEntry]:
        return self._journal_by_invocation.get(invocation_id, [])

    def tree_of(self, root_id: str) -> list[str]:
        """The invocation and every invocation it called, transitively (via ``invoked_by_id``)."""
        tree, frontier = [root_id], [root_id]
        while frontier:
            frontier = [c for p in frontier for c in self._callees.get(p, [])]
            tree += frontier
        return tree

    def tree_journal(self, root_id: str) -> list[JournalEntry]:
        """One request's journal: its own entries and its callees', in time order."""
        tree = [e for i in self.tree_of(root_id) for e in self.journal_of(i)]
        return sorted(tree, key=lambda e: (e.appended_at, e.index))

"""What a run left behind, gathered once at its end: the fake LLM's ledger, Restate's
``sys_invocation`` and ``sys_journal`` rows, the outputs, and the fault records. The
checker reads only this, so it is a pure function and can be unit-tested on fixtures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .fake_llm import LLMCall
from .faults import FaultRecord
from .stubs.refunds import SideEffectCall
from .journal import Invocation, JournalEntry, RunStep, entries, run_steps
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

    @property
    def invocations(self) -> dict[str, Invocation]:
        return {row["id"]: Invocation.from_row(row) for row in self.invocation_rows}

    @property
    def journal(self) -> list[JournalEntry]:
        return entries(self.journal_rows)

    @property
    def steps(self) -> list[RunStep]:
        return run_steps(self.journal_rows)

    def journal_of(self, invocation_id: str) -> list[JournalEntry]:
        return [e for e in self.journal if e.invocation_id == invocation_id]

    def tree_of(self, root_id: str) -> list[str]:
        """The invocation and every invocation it called, transitively (via ``invoked_by_id``)."""
        children: dict[str, list[str]] = {}
        for row in self.invocation_rows:
            if parent := row.get("invoked_by_id"):
                children.setdefault(parent, []).append(row["id"])
        tree, frontier = [root_id], [root_id]
        while frontier:
            frontier = [c for p in frontier for c in children.get(p, [])]
            tree += frontier
        return tree

    def tree_journal(self, root_id: str) -> list[JournalEntry]:
        """One request's journal: its own entries and its callees', in time order."""
        members = set(self.tree_of(root_id))
        return sorted((e for e in self.journal if e.invocation_id in members), key=lambda e: (e.appended_at, e.index))

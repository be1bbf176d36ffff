"""What the report shows, derived from ``results.json`` files: the run, its scenarios (with
the command that reproduces each), per-fault-kind figures and the trend over earlier batches.

Files are read with the one results schema (``harness.results.schema.BatchResults``), so
the report works on typed ``ScenarioResult`` objects and renders older files too. Everything
loaded here is redacted once, on load, so templates and charts only ever see redacted text.
Earlier runs are read defensively: a malformed one is skipped, never fatal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.results.reproduce import reproduce_command
from harness.results.schema import (
    BAD_VERDICTS,
    GOOD_VERDICTS,
    VERDICTS,
    CallRow,
    ImpactRow,
    JournalRow,
    BatchResults,
    ScenarioResult,
    TimelineRow,
)

from harness.redact import redact_data

NO_FAULT = "(no fault)"

# Caps keep a soak (hundreds of invocations) readable and the page small; the page says so.
MAX_TIMELINE_INVOCATIONS = 30
MAX_TIMELINE_ROWS = 90
MAX_JOURNALS = 25
MAX_LEDGER = 400


@dataclass
class Batch:
    """A batch (one CLI invocation or pytest session) as the report reads it from its results.json."""

    batch_id: str
    meta: dict[str, Any]
    scenarios: list[ScenarioResult]
    validation: dict[str, Any] | None = None


@dataclass
class InvocationRow:
    """One invocation of a call tree, in tree order, with its journal and LLM calls."""

    inv: TimelineRow
    depth: int
    journal: list[JournalRow]
    calls: list[CallRow]


@dataclass
class ScenarioView:
    result: ScenarioResult
    anchor: str
    command: str
    tree: list[InvocationRow]  # every invocation, tree order
    unattributed_calls: list[CallRow]  # LLM calls of no known invocation
    wasted_tokens: int
    flaky: bool = False  # from the trend
    timeline_svg: str | None = None  # filled by the renderer
    impact_svg: str | None = None  # filled by the renderer, for runs with an impact section

    @property
    def impact(self) -> ImpactRow | None:
        """What each fault did (many-request runs with faults), or None."""
        impact = self.result.impact
        return impact if impact is not None and impact.faults else None

    @property
    def open(self) -> bool:
        """Collapsed when it went as expected; open when there is something to look at."""
        return self.result.verdict not in GOOD_VERDICTS

    @property
    def journals(self) -> list[InvocationRow]:
        """The invocations whose journal is shown: non-completed first, then in tree order."""
        rows = [r for r in self.tree if r.journal]
        rows.sort(key=lambda r: r.inv.status == "completed")
        return rows[:MAX_JOURNALS]

    @property
    def journals_hidden(self) -> int:
        return max(0, sum(1 for r in self.tree if r.journal) - MAX_JOURNALS)

    @property
    def ledger(self) -> list[CallRow]:
        return self.result.calls[:MAX_LEDGER]

    @property
    def ledger_hidden(self) -> int:
        return max(0, len(self.result.calls) - MAX_LEDGER)


@dataclass
class KindCost:
    """What the scenarios with one fault kind cost in LLM calls and tokens."""

    kind: str
    scenarios: int = 0
    shared: int = 0  # scenarios whose cost is split with other kinds
    per_fault: int = 0  # many-fault scenarios whose calls were attributed fault by fault
    wasted_calls: float = 0.0
    wasted_tokens: float = 0.0
    duplicate_calls: float = 0.0


@dataclass
class TrendCell:
    batch_id: str
    verdict: str
    recovery_s: float | None


@dataclass
class TrendRow:
    name: str
    agent: str
    anchor: str | None  # None: not in this run, so nothing to link to
    cells: list[TrendCell | None]  # one per kept run, oldest first; None: not run then
    flaky: bool = False

    @property
    def recoveries(self) -> list[float]:
        return [c.recovery_s for c in self.cells if c is not None and c.recovery_s is not None]


@dataclass
class Report:
    batch: Batch
    scenarios: list[ScenarioView]
    counts: dict[str, int]
    status: str  # "ok" | "fail" | "unknown"
    recovery_by_kind: dict[str, list[tuple[str, float]]]
    costs: list[KindCost]
    agents: list[str]
    matrix: list[tuple[str, list[ScenarioView | None]]]
    trend_batches: list[str]
    trend: list[TrendRow]
    skipped_runs: list[str] = field(default_factory=list)


# --- loading ----------------------------------------------------------------------------


def read_batch(batch_dir: Path) -> Batch:
    """The batch in ``batch_dir``, read with the results schema and redacted. Raises
    ``ValueError`` (or ``OSError``) when it cannot be read: used for the run being
    reported, which must be there."""
    path = batch_dir / "results.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    try:
        results = BatchResults.from_json(redact_data(raw))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return Batch(results.batch_id or batch_dir.resolve().name, results.meta, results.scenarios, results.validation)


def try_read_batch(batch_dir: Path) -> Batch | None:
    """An earlier batch, or None when it is missing or malformed in any way."""
    try:
        return read_batch(batch_dir)
    except (OSError, ValueError, TypeError, AttributeError, KeyError, RecursionError):
        return None


def earlier_batch_dirs(batch_dir: Path, reports_root: Path) -> list[Path]:
    """Sibling batch folders that sort before ``batch_dir`` (batch ids sort by time), newest
    first. ``latest`` and other symlinks, stray files and folders without a results.json
    are not runs."""
    try:
        entries = list(reports_root.iterdir())
    except OSError:
        return []
    this = batch_dir.resolve()  # batch_dir may be given as reports/latest
    names = []
    for p in entries:
        try:
            if (p.name != "latest" and p.name < this.name and not p.is_symlink() and p.resolve() != this
                    and (p / "results.json").is_file()):
                names.append(p.name)
        except OSError:
            continue
    return [reports_root / name for name in sorted(names, reverse=True)]


# --- one scenario -----------------------------------------------------------------------


def anchor(name: str, agent: str) -> str:
    """An id usable in ``href="#..."``: names and agents are free text."""
    return "s-" + re.sub(r"[^A-Za-z0-9_-]+", "-", f"{name}--{agent}").strip("-")


def invocation_tree(timeline: list[TimelineRow]) -> list[tuple[int, TimelineRow]]:
    """Invocations in tree order (each parent before its callees), with their depth.
    Callees whose parent is unknown are treated as roots; cycles cannot loop."""
    by_id = {str(i.invocation_id): i for i in timeline}
    children: dict[str, list[TimelineRow]] = {}
    roots = []
    for inv in timeline:
        parent = inv.parent
        if parent is not None and str(parent) in by_id and str(parent) != str(inv.invocation_id):
            children.setdefault(str(parent), []).append(inv)
        else:
            roots.append(inv)

    def start(inv: TimelineRow) -> float:
        return inv.created_s if inv.created_s is not None else float("inf")

    ordered: list[tuple[int, TimelineRow]] = []
    seen: set[str] = set()

    def walk(inv: TimelineRow, depth: int) -> None:
        key = str(inv.invocation_id)
        if key in seen:
            return
        seen.add(key)
        ordered.append((depth, inv))
        for child in sorted(children.get(key, []), key=start):
            walk(child, depth + 1)

    for root in sorted(roots, key=start):
        walk(root, 0)
    for inv in timeline:  # anything only reachable through a cycle
        walk(inv, 0)
    return ordered


def wasted_tokens(s: ScenarioResult) -> int:
    return sum(c.tokens or 0 for c in s.calls if c.class_ == "wasted")


def scenario_view(s: ScenarioResult, anchor_id: str | None = None) -> ScenarioView:
    journal_by: dict[str, list[JournalRow]] = {}
    for entry in s.journal:
        journal_by.setdefault(str(entry.invocation_id), []).append(entry)
    calls_by: dict[str, list[CallRow]] = {}
    for call in s.calls:
        calls_by.setdefault(str(call.invocation_id), []).append(call)
    tree = []
    for depth, inv in invocation_tree(s.timeline):
        key = str(inv.invocation_id)
        journal = sorted(journal_by.get(key, []), key=lambda e: e.index or 0)
        calls = sorted(calls_by.pop(key, []), key=lambda c: c.arrived_s or 0.0)
        tree.append(InvocationRow(inv, depth, journal, calls))
    unattributed = [c for calls in calls_by.values() for c in calls]
    return ScenarioView(s, anchor_id or anchor(s.name, s.agent), reproduce_command(s), tree, unattributed,
                        wasted_tokens(s))


def fault_kinds(s: ScenarioResult) -> list[str]:
    """The distinct fault kinds of a scenario, in the order they fired."""
    kinds: list[str] = []
    for f in s.faults:
        kind = f.kind or "?"
        if kind not in kinds:
            kinds.append(kind)
    return kinds


# --- per fault kind ---------------------------------------------------------------------


def per_fault(s: ScenarioResult) -> bool:
    """Are this scenario's figures per fault (a soak or random schedule: many requests and
    faults, ``harness.checker.impact``)? Then its one recovery figure (when the last request
    held up finished) says nothing about any fault kind."""
    return s.impact is not None and bool(s.impact.faults)


def recovery_by_kind(scenarios: Iterable[ScenarioResult]) -> dict[str, list[tuple[str, float]]]:
    """Recovery times per fault kind, from the scenarios whose recovery belongs to one kind:
    a single fault kind and no per-fault figures (soaks and random schedules have their own,
    per fault, in their section)."""
    out: dict[str, list[tuple[str, float]]] = {}
    for s in scenarios:
        kinds = fault_kinds(s)
        if s.recovery_s is None or len(kinds) != 1 or per_fault(s):
            continue
        out.setdefault(kinds[0], []).append((f"{s.name} [{s.agent}]", s.recovery_s))
    return dict(sorted(out.items()))


def cost_by_kind(scenarios: Iterable[ScenarioResult]) -> list[KindCost]:
    """Wasted (and duplicate) LLM calls and tokens per fault kind. A many-fault scenario with
    per-fault figures (``per_fault``) has each call attributed to the fault that hit it
    (``harness.checker.impact``), so to that fault's kind; calls no fault explains go to
    ``(no fault)``. Another scenario with several kinds has its cost split evenly between
    them; ``shared`` counts those. Either way the column totals equal the run's totals.
    Calls wasted without any fault go to ``(no fault)``."""
    costs: dict[str, KindCost] = {}
    for s in scenarios:
        kinds = fault_kinds(s) or [NO_FAULT]
        wasted = s.llm_calls.get("wasted", 0)
        duplicate = s.llm_calls.get("duplicate", 0)
        tokens = wasted_tokens(s)
        if kinds == [NO_FAULT] and not (wasted or duplicate):
            continue  # a clean baseline costs nothing and has no kind to show
        impact = s.impact
        if impact is not None and impact.faults:
            shares: dict[str, list[float]] = {}
            for f in impact.faults:
                share = shares.setdefault(f.kind or "?", [0.0, 0.0, 0.0])
                share[0] += f.wasted_calls
                share[1] += f.wasted_tokens
                share[2] += f.duplicate_calls
            rest = [wasted - sum(v[0] for v in shares.values()), tokens - sum(v[1] for v in shares.values()),
                    duplicate - sum(v[2] for v in shares.values())]
            if any(v > 0 for v in rest):
                shares[NO_FAULT] = [max(0.0, v) for v in rest]
            for kind, (w, t, d) in shares.items():
                cost = costs.setdefault(kind, KindCost(kind))
                cost.scenarios += 1
                cost.per_fault += 1
                cost.wasted_calls += w
                cost.wasted_tokens += t
                cost.duplicate_calls += d
            continue
        share = 1.0 / len(kinds)
        for kind in kinds:
            cost = costs.setdefault(kind, KindCost(kind))
            cost.scenarios += 1
            cost.shared += len(kinds) > 1
            cost.wasted_calls += wasted * share
            cost.wasted_tokens += tokens * share
            cost.duplicate_calls += duplicate * share
    return sorted(costs.values(), key=lambda c: (-c.wasted_calls, c.kind))


# --- the run as a whole -----------------------------------------------------------------


def counts(scenarios: Iterable[ScenarioResult]) -> dict[str, int]:
    out = {v: 0 for v in VERDICTS}
    for s in scenarios:
        out[s.verdict] += 1
    return out


def status(c: dict[str, int]) -> str:
    """fail beats unknown beats ok: a failure is a finding, unknown is a missing answer."""
    if c["fail"]:
        return "fail"
    if c["unknown"] or not sum(c.values()):
        return "unknown"
    return "ok"


def matrix(views: list[ScenarioView]) -> tuple[list[str], list[tuple[str, list[ScenarioView | None]]]]:
    """Scenarios × agents, in catalogue order."""
    agents: list[str] = []
    names: list[str] = []
    cell: dict[tuple[str, str], ScenarioView] = {}
    for v in views:
        name, agent = v.result.name, v.result.agent
        if agent not in agents:
            agents.append(agent)
        if name not in names:
            names.append(name)
        cell.setdefault((name, agent), v)
    return agents, [(name, [cell.get((name, a)) for a in agents]) for name in names]


def trend(batches: list[Batch], anchors: dict[tuple[str, str], str] | None = None) -> list[TrendRow]:
    """Per scenario and agent, its verdict in each run (oldest first). Flaky: the verdict
    went both ways, good (pass, expected failure) in one run and bad (fail, unknown) in
    another."""
    rows: dict[tuple[str, str], TrendRow] = {}
    for i, batch in enumerate(batches):
        for s in batch.scenarios:
            key = (s.name, s.agent)
            row = rows.setdefault(key, TrendRow(s.name, s.agent, (anchors or {}).get(key), [None] * len(batches)))
            row.cells[i] = TrendCell(batch.batch_id, s.verdict, s.recovery_s)
    current = batches[-1] if batches else None
    order = [(s.name, s.agent) for s in current.scenarios] if current else []
    for row in rows.values():
        verdicts = {c.verdict for c in row.cells if c is not None}
        row.flaky = bool(verdicts & GOOD_VERDICTS) and bool(verdicts & BAD_VERDICTS)
    # This batch's scenarios first, in its order; then those only earlier batches had.
    return sorted(rows.values(), key=lambda r: (order.index((r.name, r.agent)) if (r.name, r.agent) in order else len(order), r.name, r.agent))


def build(batch_dir: Path, reports_root: Path, keep: int = 10) -> Report:
    batch = read_batch(batch_dir)
    earlier: list[Batch] = []
    skipped: list[str] = []
    # Newest first, until keep - 1 readable runs: a malformed run does not use up a slot.
    for path in earlier_batch_dirs(batch_dir, reports_root):
        if len(earlier) >= keep - 1:
            break
        loaded = try_read_batch(path)
        if loaded is None:
            skipped.append(path.name)
            continue
        loaded.batch_id = path.name  # the folder is the batch's identity in the trend
        earlier.insert(0, loaded)
    views = []
    anchors: dict[tuple[str, str], str] = {}
    for s in batch.scenarios:
        # Two names can slug alike ("a b", "a-b"), and a name can repeat: ids stay unique.
        base = candidate = anchor(s.name, s.agent)
        n = 1
        while candidate in anchors.values():
            n += 1
            candidate = f"{base}-{n}"
        anchors.setdefault((s.name, s.agent), candidate)
        views.append(scenario_view(s, candidate))
    c = counts(batch.scenarios)
    agents, rows = matrix(views)
    batches = [*earlier, batch]
    rows_of_trend = trend(batches, anchors)
    flaky = {(t.name, t.agent) for t in rows_of_trend if t.flaky}
    for view in views:
        view.flaky = (view.result.name, view.result.agent) in flaky
    return Report(
        batch=batch,
        scenarios=views,
        counts=c,
        status=status(c),
        recovery_by_kind=recovery_by_kind(batch.scenarios),
        costs=cost_by_kind(batch.scenarios),
        agents=agents,
        matrix=rows,
        trend_batches=[b.batch_id for b in batches],
        trend=rows_of_trend,
        skipped_runs=skipped,
    )

"""What the judge says of one run: a ``Judgement`` (its verdict, figures and typed rows), and
the verdicts.

The judge builds these from a history; ``harness.results`` turns a judgement into a
``ScenarioResult`` (what the runner adds: timings, logs, the reproduce command) and reads and
writes them as ``results.json``. Times are seconds since the run's time zero.

Every row keeps, in ``extra``, keys a results.json carried that this version does not know
(written by a later one): a file read and written again loses nothing. The judge never sets it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Verdict = Literal["pass", "fail", "expected failure", "unknown"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
GOOD_VERDICTS: frozenset[Verdict] = frozenset({"pass", "expected failure"})  # what a run is meant to have
BAD_VERDICTS: frozenset[Verdict] = frozenset(VERDICTS) - GOOD_VERDICTS  # a finding, or no answer


@dataclass
class Row:
    """A typed row of a judgement (a fault, a finding, a call...)."""

    extra: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False)


@dataclass
class FaultRow(Row):
    """A fault as it happened; seconds since the run's time zero. ``healed_s`` is None when
    it was never undone."""

    kind: str = ""
    target: str = ""
    at_s: float | None = None
    healed_s: float | None = None
    detail: Any = None  # what apply() returned (a pid, a toxic's settings)


@dataclass
class LeaderRow(Row):
    """A cluster partition's leader as first seen and at each change (seconds since the run's
    time zero); ``during`` names the fault whose window it fell in, if any."""

    at_s: float = 0.0
    partition_id: int = 0
    leader: str | None = None
    epoch: int = 0
    during: str | None = None


@dataclass
class FindingRow(Row):
    """What one check found (a ``harness.checker.check.CheckResult``, as the judge keeps it):
    a ``finding`` that did not hold fails the run, an ``advisory`` is a figure with ``advice``."""

    check: str = ""
    ok: bool = False
    message: str = ""
    bug_class: str | None = None
    severity: str = "finding"
    exercised: bool = True
    advice: str = ""

    @property
    def failed(self) -> bool:
        return not self.ok and self.severity == "finding"


@dataclass
class CallRow(Row):
    """One LLM call of the ledger, classified ``committed``, ``wasted`` or ``duplicate``."""

    id: int | None = None
    invocation_id: str | None = None
    token: str | None = None
    fingerprint: str | None = None
    attempt: int | None = None
    class_: str = ""
    reason: str = ""
    outcome: str | None = None
    status: int | None = None
    arrived_s: float | None = None
    finished_s: float | None = None
    ended_s: float | None = None  # answered or cut off
    model: str | None = None
    tokens: int | None = None
    answer: str | None = None  # an excerpt: the text, or the tool it called
    forwarded: bool = False  # answered by a real provider
    api: str = ""  # the protocol: chat, responses, anthropic or gemini ("": a file from before it was recorded)
    flaw: str | None = None  # the bad answer the fake gave on purpose ("truncated", ...), if any


@dataclass
class SideEffectRow(Row):
    """One call to a stub (a refund), classified like LLM calls."""

    id: int | None = None
    service: str = ""
    token: str | None = None
    attempt: int | None = None
    class_: str = ""
    reason: str = ""
    arrived_s: float | None = None


@dataclass
class TimelineRow(Row):
    """One invocation of the call tree (``parent``: the invocation that called it)."""

    invocation_id: str | None = None
    target: str | None = None
    parent: str | None = None
    created_s: float | None = None
    completed_s: float | None = None
    status: str | None = None
    result: str | None = None  # "success" | "failure" once completed
    output: Any = None
    failure: Any = None


@dataclass
class JournalRow(Row):
    """One ``sys_journal`` entry."""

    invocation_id: str | None = None
    index: int | None = None
    entry_type: str | None = None
    name: str | None = None
    appended_s: float | None = None


@dataclass
class RequestPointRow(Row):
    """One request of a many-request run, for the latency plot: when it was sent, when it
    finished (None: still running at the end of the run), and how (``completed``,
    ``failed``, ``running``). Seconds since the run's time zero."""

    sent_s: float = 0.0
    finished_s: float | None = None
    outcome: str = "running"


@dataclass
class FaultImpactRow(Row):
    """What one fault did to a many-request run (``harness.checker.impact``). Rates are
    completed requests per second; ``dip`` is the fraction of the reference rate lost at
    the trough (0.0 to 1.0); ``recovered_s`` is seconds from healing to recovery, None
    unless ``recovery`` is ``recovered`` (else ``not recovered``, ``not healed`` or
    ``no load``)."""

    kind: str = ""
    target: str = ""
    at_s: float | None = None
    healed_s: float | None = None
    reference_rps: float | None = None
    reference: str = ""  # "pre-fault" or "offered load": where reference_rps comes from
    trough_rps: float | None = None
    dip: float | None = None
    recovered_s: float | None = None
    recovery: str = ""
    requests: int = 0  # in flight or sent during the window
    delayed: int = 0  # of those, slower than the delay threshold or never finished
    failed: int = 0  # of those, failed terminally
    wasted_calls: int = 0  # wasted LLM calls this fault hit first
    wasted_tokens: int = 0
    duplicate_calls: int = 0  # duplicate LLM calls that followed this fault (the last before them)


@dataclass
class ImpactRow(Row):
    """The impact of the faults of a many-request run (soaks, random schedules): every
    request's latency, throughput over time, and one row per fault. See
    ``harness.checker.impact`` for the definitions."""

    window_s: float = 1.0  # the throughput window
    end_s: float = 0.0  # the last thing observed, seconds since time zero
    offered_rps: float | None = None  # the workload's send rate
    baseline_latency_s: float | None = None
    baseline: str = ""  # which requests the baseline latency is the median of
    delay_threshold_s: float | None = None
    throughput_t: list[float] = field(default_factory=list)  # window centres
    throughput_rps: list[float] = field(default_factory=list)
    requests: list[RequestPointRow] = field(default_factory=list)
    faults: list[FaultImpactRow] = field(default_factory=list)
    unattributed_wasted: int = 0  # wasted LLM calls no fault window overlapped
    unattributed_delayed: int = 0  # slow requests outside every fault's affected window


@dataclass
class Judgement:
    """The verdict and figures of one run, as the judge found them. A run in which nothing
    was exercised is ``unknown``, never ``pass``."""

    name: str
    agent: str
    verdict: Verdict
    description: str = ""
    tags: list[str] = field(default_factory=list)
    invocations: dict[str, int] = field(default_factory=lambda: {"sent": 0, "completed": 0, "failed": 0})
    llm_calls: dict[str, int] = field(default_factory=lambda: {"committed": 0, "wasted": 0, "duplicate": 0})
    side_effects: dict[str, int] = field(default_factory=dict)  # the same classes, for stub calls
    side_effect_calls: list[SideEffectRow] = field(default_factory=list)
    recovery_s: float | None = None
    faults: list[FaultRow] = field(default_factory=list)
    leadership: list[LeaderRow] = field(default_factory=list)  # a cluster's leaders over the run
    findings: list[FindingRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    calls: list[CallRow] = field(default_factory=list)
    journal: list[JournalRow] = field(default_factory=list)
    timeline: list[TimelineRow] = field(default_factory=list)  # every invocation of the tree, for the report
    stuck: list[dict[str, Any]] = field(default_factory=list)  # not done by the deadline: rows and journal
    suspended: int = 0  # invocations seen suspended while running: evidence that always-replay took hold
    # Runs with many requests and faults (harness.checker.impact): latency, throughput and
    # per-fault dip, recovery and delayed requests. None elsewhere.
    impact: ImpactRow | None = None

    @property
    def good(self) -> bool:
        """The verdict is one a run is meant to have (pass, expected failure)."""
        return self.verdict in GOOD_VERDICTS


__all__ = [
    "BAD_VERDICTS", "GOOD_VERDICTS", "VERDICTS", "CallRow", "FaultImpactRow", "FaultRow", "FindingRow", "ImpactRow",
    "Judgement", "JournalRow", "LeaderRow", "RequestPointRow", "Row", "SideEffectRow", "TimelineRow", "Verdict",
]

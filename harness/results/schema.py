"""Results: the verdict of one scenario and the machine-readable ``results.json`` users
script against. A run in which nothing was exercised is ``unknown``, never ``pass``.

This module is the one schema of ``results.json``, for writing and for reading:

- ``RunResults(meta, scenarios)`` is the file: ``to_json()`` / ``from_json()``, ``read(path)``
  and ``write(run_dir)``; the file carries ``schema_version`` at the top level (files
  without it are version 1).
- ``ScenarioResult`` is one scenario; ``ScenarioResult.from_json`` reads older and
  hand-edited files: missing fields get their defaults, values of the wrong type are
  coerced (``1`` for a float) or dropped (then the default), rows that are not objects are
  dropped.
- ``FaultRow``, ``FindingRow``, ``CallRow``, ``SideEffectRow``, ``TimelineRow`` and
  ``JournalRow`` are typed rows of a scenario; ``ImpactRow`` (with ``FaultImpactRow`` and
  ``RequestPointRow``) is the optional per-fault impact of a many-request run. They
  serialise to the same objects as before (``"class"`` for ``class_``) and keep keys they
  do not know in ``extra``. For code written against the dicts they replace, a row also
  reads like one: ``row["class"]``, ``row.get("reason")``. A list of rows can be assigned
  as plain dicts (the judge builds them so); they are converted on assignment.
- ``Verdict``, ``VERDICTS``, ``GOOD_VERDICTS`` and ``BAD_VERDICTS``: the verdicts, defined
  here once for the judge, the CLI, the pytest plugin and the report.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args, get_origin

from harness.results.redact import redact_data

Verdict = Literal["pass", "fail", "expected failure", "unknown"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
GOOD_VERDICTS: frozenset[Verdict] = frozenset({"pass", "expected failure"})  # what a run is meant to have
BAD_VERDICTS: frozenset[Verdict] = frozenset(VERDICTS) - GOOD_VERDICTS  # a finding, or no answer

# 1: files without "schema_version". 2: "schema_version" added; the shape is otherwise the same.
SCHEMA_VERSION = 2


# --- tolerant coercion ------------------------------------------------------------------


class _Bad(Exception):
    """A value that cannot be coerced to a field's type: the field gets its default."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coerce(tp: Any, value: Any) -> Any:
    """``value`` as type ``tp``, or ``_Bad``. Lists and dicts drop items that do not fit."""
    if tp is Any:
        return value
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        if value in args:
            return value
        raise _Bad
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is not type(None):
                try:
                    return _coerce(arg, value)
                except _Bad:
                    pass
        raise _Bad
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _Bad
    if tp is float:
        if _is_number(value):
            return float(value)
        raise _Bad
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)):  # bool included: a scalar reads as text
            return str(value)
        raise _Bad
    if isinstance(tp, type) and issubclass(tp, Row):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return tp.from_json(value)
        raise _Bad
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise _Bad
        items = []
        for item in value:
            try:
                items.append(_coerce(args[0], item))
            except _Bad:
                continue
        return items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _Bad
        out = {}
        for key, item in value.items():
            try:
                out[str(key)] = _coerce(args[1], item)
            except _Bad:
                continue
        return out
    raise TypeError(f"results schema: no coercion for {tp!r}")


def _default(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise _Bad  # a required field


@cache
def _types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _read_fields(cls: type, data: Mapping[str, Any], names: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(field values, unknown keys) of ``data`` for dataclass ``cls``; ``names`` maps a field
    to its JSON key where they differ."""
    hints = _types(cls)
    values: dict[str, Any] = {}
    known = set()
    for f in fields(cls):
        if f.name == "extra":
            continue
        key = names.get(f.name, f.name)
        known.add(key)
        if key in data:
            try:
                values[f.name] = _coerce(hints[f.name], data[key])
                continue
            except _Bad:
                pass
        values[f.name] = _default(f)
    return values, {str(k): v for k, v in data.items() if k not in known}


# --- rows -------------------------------------------------------------------------------


@dataclass
class Row(Mapping[str, Any]):
    """A typed row of a scenario, read from and written to a JSON object. Keys it does not
    know are kept in ``extra`` and written back. Reads like the dict it replaces
    (``row["class"]``, ``row.get(...)``, ``dict(row)``), keyed by JSON names."""

    extra: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False)

    _json_names: ClassVar[dict[str, str]] = {}  # field -> JSON key, where they differ
    _omit_when_empty: ClassVar[tuple[str, ...]] = ()  # written only when set

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "typing.Self":
        if not isinstance(data, Mapping):
            raise ValueError(f"a {cls.__name__} is a JSON object, not {type(data).__name__}")
        values, extra = _read_fields(cls, data, cls._json_names)
        return cls(**values, extra=extra)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in self._omit_when_empty and not value:
                continue
            if isinstance(value, Row):  # nested rows (the impact's) as JSON objects too
                value = value.to_json()
            elif isinstance(value, list) and value and isinstance(value[0], Row):
                value = [v.to_json() if isinstance(v, Row) else v for v in value]
            out[self._json_names.get(f.name, f.name)] = value
        out.update((k, v) for k, v in self.extra.items() if k not in out)
        return out

    # The dict view.
    def __getitem__(self, key: str) -> Any:
        return self.to_json()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_json())

    def __len__(self) -> int:
        return len(self.to_json())


@dataclass
class FaultRow(Row):
    """A fault as it happened; seconds since the run's time zero. ``healed_s`` is None when
    it was never undone."""

    kind: str = ""
    target: str = ""
    at_s: float | None = None
    healed_s: float | None = None
    detail: Any = None  # what apply() returned (a pid, a toxic's settings)

    _omit_when_empty: ClassVar[tuple[str, ...]] = ("detail",)


@dataclass
class FindingRow(Row):
    """What one check found (``harness.checker.checks.CheckResult``): a ``finding`` that did
    not hold fails the run, an ``advisory`` is a figure with ``advice``."""

    check: str = ""
    ok: bool = False
    message: str = ""
    bug_class: str | None = None
    severity: str = "finding"
    exercised: bool = True
    advice: str = ""

    _omit_when_empty: ClassVar[tuple[str, ...]] = ("bug_class", "advice")

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

    _json_names: ClassVar[dict[str, str]] = {"class_": "class"}


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

    _json_names: ClassVar[dict[str, str]] = {"class_": "class"}


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


# --- one scenario -------------------------------------------------------------------------


@dataclass
class ScenarioResult:
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
    findings: list[FindingRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    calls: list[CallRow] = field(default_factory=list)
    journal: list[JournalRow] = field(default_factory=list)
    timeline: list[TimelineRow] = field(default_factory=list)  # every invocation of the tree, for the report
    duration_s: float = 0.0
    environment_ready_s: float | None = None
    environment_reused: bool = False  # ran in an environment an earlier scenario left clean (harness.runner.pool)
    phases_s: dict[str, float] = field(default_factory=dict)  # where its time went (harness.timing)
    log_tails: dict[str, str] = field(default_factory=dict)
    stuck: list[dict[str, Any]] = field(default_factory=list)  # not done by the deadline: rows and journal
    always_replay: bool = False
    suspended: int = 0  # invocations seen suspended while running: evidence that always-replay took hold
    reproduce: str = ""  # the command that runs this scenario again, the same way (harness.results.reproduce)
    seed: int | None = None
    schedule: list[str] = field(default_factory=list)
    # A failed random schedule, shrunk (harness.nemesis.shrink): the minimal schedule, its
    # request count, choices and reproduce command, the finding that persisted, attempts, time.
    shrunk: dict[str, Any] | None = None
    # Runs with many requests and faults (harness.checker.impact): latency, throughput and
    # per-fault dip, recovery and delayed requests. None elsewhere, and in older files.
    impact: ImpactRow | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        # Rows may be given as dicts (the judge builds them so): they are held as rows.
        if name in _ROW_FIELDS and isinstance(value, (list, tuple)):
            value = _coerce(_ROW_FIELDS[name], value)
        elif name == "impact" and isinstance(value, Mapping) and not isinstance(value, Row):
            value = ImpactRow.from_json(value)
        object.__setattr__(self, name, value)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _ROW_FIELDS:
                value = [row.to_json() if isinstance(row, Row) else dict(row) for row in value]
            elif isinstance(value, Row):
                value = value.to_json()
            elif isinstance(value, (dict, list)):
                value = json.loads(json.dumps(value, default=str))  # a copy, as asdict made
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Any) -> "ScenarioResult":
        """A scenario of a results.json of any version. ``ValueError`` when ``data`` is not
        an object with a string ``name``; anything else missing or mistyped gets its
        default (an agent ``?``, a verdict ``unknown``)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
            raise ValueError("a scenario is a JSON object with a string name")
        fixed = {**data, "agent": str(data.get("agent") or "?")}
        if fixed.get("verdict") not in VERDICTS:
            fixed["verdict"] = "unknown"
        values, _ = _read_fields(cls, fixed, {})
        return cls(**values)

    @property
    def good(self) -> bool:
        """The verdict is one a run is meant to have (pass, expected failure)."""
        return self.verdict in GOOD_VERDICTS

    def explain(self) -> str:
        """The verdict with its evidence, for an assertion message."""
        lines = [f"{self.name} [{self.agent}]: {self.verdict}", *self.errors]
        lines += [f"  {'ok ' if f.ok else 'BAD' if f.failed else 'adv'} {f.check}: {f.message}" for f in self.findings]
        lines += [f"  call #{c.id} {c.class_}: {c.reason}" for c in self.calls]
        lines += [f"--- {name}\n{tail}" for name, tail in self.log_tails.items()]
        return "\n".join(lines)


_ROW_FIELDS: dict[str, Any] = {
    "side_effect_calls": list[SideEffectRow],
    "faults": list[FaultRow],
    "findings": list[FindingRow],
    "calls": list[CallRow],
    "journal": list[JournalRow],
    "timeline": list[TimelineRow],
}


# --- the file -------------------------------------------------------------------------------


@dataclass
class RunResults:
    """``results.json``: the run's ``meta`` (run_id, started_at, finished_at, versions, ...,
    free-form) and its scenarios."""

    meta: dict[str, Any] = field(default_factory=dict)
    scenarios: list[ScenarioResult] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION  # as read; always written as SCHEMA_VERSION
    # A validation's diagnosis: {"agent", "entry", "baseline", "plan", "classes": {class: row}}
    validation: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        document = {"schema_version": SCHEMA_VERSION, "meta": self.meta, "scenarios": [s.to_json() for s in self.scenarios]}
        if self.validation is not None:
            document["validation"] = self.validation
        return document

    @classmethod
    def from_json(cls, data: Any) -> "RunResults":
        """``ValueError`` when ``data`` is not an object with a ``scenarios`` list. Items of
        that list that are not scenarios (no name) are skipped."""
        if not isinstance(data, Mapping) or not isinstance(data.get("scenarios"), list):
            raise ValueError("results.json is an object with a scenarios list")
        meta = dict(data["meta"]) if isinstance(data.get("meta"), Mapping) else {}
        meta["versions"] = dict(meta["versions"]) if isinstance(meta.get("versions"), Mapping) else {}
        scenarios = []
        for item in data["scenarios"]:
            try:
                scenarios.append(ScenarioResult.from_json(item))
            except ValueError:
                continue
        version = data.get("schema_version", 1)
        validation = data.get("validation")
        return cls(meta, scenarios, version if isinstance(version, int) and not isinstance(version, bool) else 1,
                   dict(validation) if isinstance(validation, Mapping) and isinstance(validation.get("classes"), Mapping)
                   else None)

    @classmethod
    def read(cls, path: Path) -> "RunResults":
        """Read ``path`` (a results.json). ``OSError`` when it cannot be read, ``ValueError``
        when it is not JSON or not results."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not JSON: {exc}") from None
        try:
            return cls.from_json(raw)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def write(self, out_dir: Path) -> Path:
        """Write ``out_dir/results.json`` atomically, secrets redacted."""

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "results.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(redact_data(self.to_json()), indent=2, default=str))
        tmp.replace(path)
        return path


__all__ = [
    "BAD_VERDICTS", "GOOD_VERDICTS", "SCHEMA_VERSION", "VERDICTS", "CallRow", "FaultImpactRow", "FaultRow", "FindingRow",
    "ImpactRow", "JournalRow", "RequestPointRow", "Row", "RunResults", "ScenarioResult", "SideEffectRow", "TimelineRow",
    "Verdict",
]

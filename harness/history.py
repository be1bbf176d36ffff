"""The history: the one record of a run that checkers read, as in Jepsen.

It holds the requests sent (tokens, idempotency keys), the fault records (applied, undone),
every fake service's ledger (LLM calls, stub calls), and the typed ``sys_invocation`` and
``sys_journal`` rows Restate reported. Checkers are pure functions of a ``History``; this
module imports nothing from the runner, the nemesis or the environment, so a history saved
from a real run (``History.to_json``) can be judged again in a unit test.

``sys_journal`` (journal v2) names only Commands; a step's completion is a separate
``Notification: Run`` row that points back to its command by ``completion_id`` inside
``entry_lite_json``. Null columns are absent from Restate's rows, so parsing uses ``.get``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from functools import cached_property
from typing import Any, Literal, Protocol

from harness.restate_settings import RestateSettings

HISTORY_VERSION = 1


def parse_time(value: str | None) -> float | None:
    """Restate's ISO-8601 UTC timestamps (millisecond precision) as epoch seconds."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --- what the workload and the nemesis did -----------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request of the workload and the invocation Restate created for it."""

    token: str
    question: str
    invocation_id: str
    idempotency_key: str
    sent_at: float  # when Restate acknowledged it (the send returned an invocation id)
    tried_at: float | None = None  # when its first send began: a partitioned ingress holds it until the heal


@dataclass
class FaultRecord:
    """One fault as it happened; times are epoch seconds (``at_s``/``healed_s`` in results
    are relative to the start of the run). ``undone_at`` is when the undo began (a restart's
    start-up time is part of recovery); None while the fault is in force. ``settled_at`` is
    when the undo finished, on a cluster (where an undo waits until every partition is led
    and leadership has stopped moving), so what the undo disturbed meanwhile is still the
    fault's doing."""

    kind: str
    target: str
    applied_at: float
    undone_at: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    settled_at: float | None = None

    def overlaps(self, start: float, end: float | None) -> bool:
        """Did this fault's window intersect [start, end]? An open end means 'until now'.
        The window lasts until the undo settled."""
        undone = self.undone_at if self.undone_at is not None else float("inf")
        undone = max(undone, self.settled_at or undone)
        return start <= undone and (end is None or end >= self.applied_at)


@dataclass(frozen=True)
class LeaderChange:
    """A partition's leader as first seen (epoch seconds ``at``), and each time it changed:
    the node acting as leader at the highest epoch any node reported (``leader`` None while
    no node answered). Sampled on a cluster only."""

    at: float
    partition_id: int
    leader: str | None
    epoch: int


# --- what the fake services saw -----------------------------------------------------------


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
class LLMCall:
    """One LLM request the fake received, as `GET /_fake/calls` reported it."""

    id: int
    arrived_at: float
    finished_at: float | None
    released_at: float | None
    disconnected_at: float | None
    held: bool
    token: str | None
    fingerprint: str
    model: str | None
    rule_index: int | None
    status: int | None
    outcome: str
    stream: bool
    request: dict[str, Any]
    response: Any
    usage: dict[str, int] | None
    api: str = "chat"  # the protocol: "chat", "responses" (OpenAI), "anthropic" (Messages) or "gemini"
    forwarded: bool = False  # answered by the upstream (the real LLM) rather than by a scripted rule
    rule_id: str | None = None  # the id of the rule that answered (None: the default answer)
    token_inferred: bool = False  # the auto mode took `token` from the ledger; the request carried none
    tools: tuple[str, ...] = ()  # the function tools offered, in any protocol (newer ledgers)
    tool_called: str | None = None  # the tool the fake's answer called, if it called one
    output_format: str | None = None  # "json_object", "json_schema", "strict_json_schema": structured output asked for
    strict_tools: tuple[str, ...] = ()  # the offered tools whose schema the provider would enforce
    flaw: str | None = None  # the bad answer the fake gave on purpose (a value fault), if any

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LLMCall:
        """Build from a ledger entry; fields this client does not know are ignored."""
        known = {f.name for f in fields(cls)}
        values = {name: value for name, value in data.items() if name in known}
        for name in ("tools", "strict_tools"):  # JSON gives a list; a tuple keeps the call hashable and comparable
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation the request carried, as the protocol spells it: chat and Anthropic
        `messages` (Anthropic's system prompt is apart, in `request["system"]`), Responses
        `input` items (a string input as one user message), Gemini `contents`."""
        if self.api == "responses":
            items = self.request.get("input")
            if isinstance(items, str):
                return [{"role": "user", "content": items}]
            return list(items or [])
        if self.api == "gemini":
            return list(self.request.get("contents") or [])
        return list(self.request.get("messages") or [])

    def describe(self) -> str:
        """A one-line summary for error messages."""
        return (
            f"#{self.id} outcome={self.outcome} held={self.held} status={self.status} "
            f"model={self.model} token={self.token}"
        )


class Calls(list[LLMCall]):
    """The calls the fake received, in arrival order, with a few ways to slice them."""

    @property
    def last(self) -> LLMCall:
        if not self:
            raise IndexError("the fake LLM has received no calls")
        return self[-1]

    @property
    def held(self) -> Calls:
        """The calls currently held, waiting for a release."""
        return Calls(call for call in self if call.held)

    def for_token(self, token: str) -> Calls:
        """The calls whose messages carried this correlation token."""
        return Calls(call for call in self if call.token == token)

    def by_fingerprint(self) -> dict[str, Calls]:
        """Calls grouped by request fingerprint (first arrival first); a group of 2+ is a repeat."""
        groups: dict[str, Calls] = {}
        for call in self:
            groups.setdefault(call.fingerprint, Calls()).append(call)
        return groups


@dataclass(frozen=True)
class StubCall:
    """One call to a recording stub (a side effect such as a refund), as its ledger has it."""

    id: int
    arrived_at: float
    finished_at: float | None
    token: str | None
    fingerprint: str
    outcome: str
    status: int | None
    disconnected_at: float | None = None
    service: str = ""
    path: str = ""
    tool: str = ""  # an MCP tool's name, or "METHOD /path" over plain HTTP
    arguments: Any = None  # the MCP call's arguments, or the HTTP body (JSON if it parses)
    protocol: str = "http"  # or "mcp"
    held: bool = False
    fault: str | None = None  # the fault the harness applied to this call, if any

    def describe(self) -> str:
        """The call as its user names it: ``pay({"cents": 20}) on payments`` (MCP) or
        ``POST /refunds {"order": 1} on refunds`` (HTTP)."""
        shown = self.tool or self.path
        if self.arguments is not None:
            args = json.dumps(self.arguments, sort_keys=True)[:200]
            shown += f"({args})" if self.protocol == "mcp" else f" {args}"
        return f"{shown} on {self.service or 'a stub'}"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "StubCall":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# --- what Restate reported ----------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    """A ``sys_invocation`` row, typed: the columns checkers and reports read."""

    id: str
    status: str
    target: str = ""
    created_at: float | None = None
    completed_at: float | None = None
    completion_result: str | None = None
    completion_failure: str | None = None
    retry_count: int = 0
    last_failure: str | None = None
    last_failure_error_code: str | None = None
    last_failure_related_command_name: str | None = None
    invoked_by_id: str | None = None
    idempotency_key: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Invocation":
        return cls(
            id=row["id"],
            status=row.get("status", "unknown"),
            target=row.get("target", ""),
            created_at=parse_time(row.get("created_at")),
            completed_at=parse_time(row.get("completed_at")),
            completion_result=row.get("completion_result"),
            completion_failure=row.get("completion_failure"),
            retry_count=int(row.get("retry_count") or 0),
            last_failure=row.get("last_failure"),
            last_failure_error_code=row.get("last_failure_error_code"),
            last_failure_related_command_name=row.get("last_failure_related_command_name"),
            invoked_by_id=row.get("invoked_by_id"),
            idempotency_key=row.get("idempotency_key"),
        )

    @property
    def done(self) -> bool:
        return self.status == "completed"

    @property
    def succeeded(self) -> bool:
        return self.done and self.completion_result == "success"


@dataclass(frozen=True)
class JournalEntry:
    """A ``sys_journal`` row, typed; ``detail`` is its parsed ``entry_lite_json``."""

    invocation_id: str
    index: int
    entry_type: str
    name: str
    appended_at: float
    detail: dict[str, Any]
    # A step's journaled result as text (``Notification: Run`` only): what ties the result
    # to the call whose answer it was, when parallel steps finish in any order.
    value: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "JournalEntry":
        try:
            detail = json.loads(row.get("entry_lite_json") or "{}")
        except ValueError:
            detail = {}
        return cls(
            invocation_id=row["id"],
            index=int(row["index"]),
            entry_type=row.get("entry_type", ""),
            name=row.get("name") or "",
            appended_at=parse_time(row.get("appended_at")) or 0.0,
            detail=detail if isinstance(detail, dict) else {},
            value=_run_result(row.get("entry_json")),
        )

    @property
    def completion_id(self) -> int | None:
        command = self.detail.get("Command", {})
        for body in command.values() if isinstance(command, dict) else ():
            if isinstance(body, dict) and "completion_id" in body:
                return int(body["completion_id"])
        notification = self.detail.get("Notification", {})
        ident = notification.get("id", {}) if isinstance(notification, dict) else {}
        if isinstance(ident, dict) and "CompletionId" in ident:
            return int(ident["CompletionId"])
        return None

    @property
    def result(self) -> str | None:
        notification = self.detail.get("Notification", {})
        return notification.get("result") if isinstance(notification, dict) else None

    def describe(self) -> str:
        """How a finding names this entry: type, name and journal index."""
        return f"'{self.entry_type}{' ' + self.name if self.name else ''}' (index {self.index})"


@dataclass(frozen=True)
class Step:
    """A journaled step (``ctx.run``): its command and its completion, if one was journaled.
    A step is identified by its invocation and the journal ``index`` of its command, never by
    its name: frameworks give many steps the same name (e.g. every model call "call LLM")."""

    invocation_id: str
    index: int
    name: str
    started_at: float
    completed_at: float | None
    result: str | None
    completions: int = 0  # how many Notification: Run entries answer this step (one, or none)
    value: str | None = None  # the journaled result, as text, when Restate reported it

    @property
    def completed(self) -> bool:
        return self.completed_at is not None

    def describe(self) -> str:
        return f"step '{self.name}' (journal index {self.index})"


def entries(rows: Sequence[Mapping[str, Any]]) -> list[JournalEntry]:
    return sorted((JournalEntry.from_row(r) for r in rows), key=lambda e: (e.invocation_id, e.index))


def steps_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[Step]:
    """Pair every ``Command: Run`` row with its ``Notification: Run``."""
    return steps_of(entries(rows))


def steps_of(parsed: Sequence[JournalEntry]) -> list[Step]:
    """``steps_from_rows`` on parsed entries."""
    notifications: dict[tuple[str, int | None], list[JournalEntry]] = {}
    for e in parsed:
        if e.entry_type == "Notification: Run":
            notifications.setdefault((e.invocation_id, e.completion_id), []).append(e)
    steps = []
    for e in parsed:
        if e.entry_type != "Command: Run":
            continue
        done = notifications.get((e.invocation_id, e.completion_id), [])
        first = done[0] if done else None
        steps.append(
            Step(e.invocation_id, e.index, e.name, e.appended_at, first.appended_at if first else None,
                 first.result if first else None, len(done), first.value if first else None)
        )
    return steps


def _run_result(entry_json: str | None) -> str | None:
    """The value a ``Notification: Run``'s full entry carries (``{"Success": [bytes]}``),
    decoded as UTF-8 text; a failure's message; None when there is none."""
    if not entry_json:
        return None
    try:
        result = json.loads(entry_json)["Notification"]["Completion"]["Run"]["result"]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(result, dict) and isinstance(result.get("Success"), list):
        return bytes(result["Success"]).decode("utf-8", errors="replace")
    return json.dumps(result) if result else None


# --- sampled while the run was going -------------------------------------------------------


@dataclass
class Samples:
    """What polling ``sys_invocation`` saw during the run, per invocation id: completed rows
    no longer carry their retry count or last failure, so they are sampled as they go.

    ``max_retry_count`` counts attempts (1.7's ``retry_count``). A poll can miss a short
    attempt altogether, so one more is known from the states: an invocation seen backing off
    after attempt n and then completed ran attempt n + 1."""

    max_retry_count: dict[str, int] = field(default_factory=dict)
    statuses_seen: dict[str, list[str]] = field(default_factory=dict)
    failures_seen: dict[str, list[str]] = field(default_factory=dict)  # "code: message"
    # Bookkeeping while sampling, not part of the record: the attempt of the last backing-off seen.
    backing_off_after: dict[str, int] = field(default_factory=dict)

    def add(self, row: Invocation) -> None:
        attempts = row.retry_count
        if row.status == "backing-off":
            self.backing_off_after[row.id] = row.retry_count
        elif row.status == "completed" and row.id in self.backing_off_after:
            attempts = max(attempts, self.backing_off_after[row.id] + 1)
        self.max_retry_count[row.id] = max(self.max_retry_count.get(row.id, 0), attempts)
        statuses = self.statuses_seen.setdefault(row.id, [])
        if row.status not in statuses:
            statuses.append(row.status)
        if row.last_failure:
            failure = f"{row.last_failure_error_code or ''}: {row.last_failure}"
            failures = self.failures_seen.setdefault(row.id, [])
            if failure not in failures:
                failures.append(failure)

    def to_json(self) -> dict[str, Any]:
        return {"max_retry_count": dict(self.max_retry_count), "statuses_seen": dict(self.statuses_seen),
                "failures_seen": dict(self.failures_seen)}


# --- the history ------------------------------------------------------------------------------


CallKind = Literal["llm", "side_effect"]


@dataclass
class History:
    """Everything a run did and everything Restate and the fakes saw. ``started_at`` is the
    run's time zero: the first fault applied or the first request sent."""

    started_at: float
    requests: list[Request] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)
    llm_calls: list[LLMCall] = field(default_factory=list)
    stub_calls: list[StubCall] = field(default_factory=list)
    # Roots and callees at any depth, and strays: invocations of the run outside every call
    # tree (started over plain HTTP, behind Restate's back).
    invocations: list[Invocation] = field(default_factory=list)
    journal: list[JournalEntry] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # invocation id -> decoded output
    keyed_invocations: list[Invocation] = field(default_factory=list)  # by the requests' idempotency keys
    inputs: dict[str, str] = field(default_factory=dict)  # invocation id -> its input as journaled (strays only)
    samples: Samples = field(default_factory=Samples)
    planned_faults: int = 0  # how many faults the schedule had: fewer records means one never fired
    restate: RestateSettings | None = None  # the timeouts and retry policy of the run (None: not known)
    ended_at: float | None = None  # when the history was gathered: the run's end
    leadership: list[LeaderChange] = field(default_factory=list)  # a cluster's leaders over the run

    # Derived views are computed once: checks and the classifier read them per request, and
    # a soak has hundreds of requests over thousands of journal rows.

    @cached_property
    def invocation(self) -> dict[str, Invocation]:
        """Invocations by id."""
        return {inv.id: inv for inv in self.invocations}

    @cached_property
    def steps(self) -> list[Step]:
        return steps_of(self.journal)

    @cached_property
    def _journal_by_invocation(self) -> dict[str, list[JournalEntry]]:
        grouped: dict[str, list[JournalEntry]] = {}
        for entry in sorted(self.journal, key=lambda e: (e.invocation_id, e.index)):
            grouped.setdefault(entry.invocation_id, []).append(entry)
        return grouped

    @cached_property
    def _callees(self) -> dict[str, list[str]]:
        children: dict[str, list[str]] = {}
        for inv in self.invocations:
            if inv.invoked_by_id:
                children.setdefault(inv.invoked_by_id, []).append(inv.id)
        return children

    def journal_of(self, invocation_id: str) -> list[JournalEntry]:
        return self._journal_by_invocation.get(invocation_id, [])

    def callees_of(self, invocation_id: str) -> list[Invocation]:
        return [self.invocation[i] for i in self._callees.get(invocation_id, [])]

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

    @property
    def forwarded(self) -> bool:
        """Did a real provider answer (the fake as a recording proxy)? Then answers are not
        compared word for word."""
        return any(c.forwarded for c in self.llm_calls)

    @property
    def exercised(self) -> bool:
        """Something happened: a request, an LLM call, and every planned fault applied."""
        return bool(self.requests) and bool(self.llm_calls) and len(self.faults) == self.planned_faults

    # --- saved histories (fixtures for unit tests, and re-judging a run) -------------------

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data = {k: (v.to_json() if k == "samples" else [asdict(x) for x in v] if isinstance(v, list)
                    else dict(v) if isinstance(v, dict) else v)
                for k, v in data.items()}
        for fault in data["faults"]:  # only a cluster's faults settle after their undo: others lack it
            if fault["settled_at"] is None:
                del fault["settled_at"]
        for call in data["llm_calls"]:  # noted since the fake reads every protocol's tools; most calls offer none
            if not call["tools"]:
                del call["tools"]
            for name in ("tool_called", "output_format", "flaw"):
                if call[name] is None:
                    del call[name]
            if not call["strict_tools"]:
                del call["strict_tools"]
        for entry in data["journal"]:  # only step results carry a value
            if entry["value"] is None:
                del entry["value"]
        for key in ("restate", "ended_at"):  # recorded since histories judged liveness
            if data[key] is None:
                del data[key]
        if not data["leadership"]:  # a cluster's only
            del data["leadership"]
        for request in data["requests"]:  # recorded since partitions held sends back
            if request["tried_at"] is None:
                del request["tried_at"]
        if self.restate is not None:
            data["restate"] = self.restate.to_json()
        return {"history_version": HISTORY_VERSION, **data}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "History":
        return cls(
            started_at=float(data["started_at"]),
            requests=[Request(**r) for r in data.get("requests", [])],
            faults=[FaultRecord(**f) for f in data.get("faults", [])],
            llm_calls=[LLMCall.from_json(c) for c in data.get("llm_calls", [])],
            stub_calls=[StubCall.from_json(c) for c in data.get("stub_calls", [])],
            invocations=[Invocation(**i) for i in data.get("invocations", [])],
            journal=[JournalEntry(**e) for e in data.get("journal", [])],
            outputs=dict(data.get("outputs", {})),
            keyed_invocations=[Invocation(**i) for i in data.get("keyed_invocations", [])],
            inputs=dict(data.get("inputs", {})),
            samples=Samples(**data.get("samples", {})),
            planned_faults=int(data.get("planned_faults", 0)),
            restate=RestateSettings.from_json(data["restate"]) if data.get("restate") else None,
            ended_at=data.get("ended_at"),
            leadership=[LeaderChange(**c) for c in data.get("leadership", [])],
        )

"""The judge: from a history and the scenario's checks to a ``Judgement``, the verdict and
figures of the run (``harness.results`` makes it a ``ScenarioResult``). A run in which
nothing was exercised is ``unknown``, never ``pass``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness.checker.check import Check, CheckResult
from harness.checker.classify import classify_history, llm_calls, side_effects, tally
from harness.checker.classify import ClassifiedCall
from harness.checker.impact import measure_impact
from harness.checker.judgement import (
    CallRow,
    FaultRow,
    FindingRow,
    JournalRow,
    Judgement,
    LeaderRow,
    SideEffectRow,
    TimelineRow,
    Verdict,
)
from harness.history import History


@dataclass(frozen=True)
class RunInfo:
    """What the judge needs to know of the run besides what it observed."""

    name: str
    agent: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    expect_failure: bool = False


def judge(info: RunInfo, history: History | None, errors: Sequence[str]) -> Judgement:
    """The verdict and figures of one run. ``history`` is None when the environment never
    came up; ``errors`` are the run's own (a trigger that never fired, a deadline)."""
    result = Judgement(info.name, info.agent, "unknown", info.description, list(info.tags), errors=list(errors))
    if history is None:
        return result
    calls = classify_history(history)
    _count(result, history, calls)
    _rows(result, history, calls)
    findings: list[CheckResult] = [check.evaluate(history, calls) for check in info.checks]
    result.findings = [FindingRow(**asdict(f)) for f in findings]
    result.verdict = _verdict(info, history, findings, result.errors)
    return result


def _count(result: Judgement, history: History, calls: list[ClassifiedCall]) -> None:
    """The figures: invocations per request, LLM calls and side effects by class, recovery,
    impact, invocations seen suspended, and what was stuck."""
    invocation = history.invocation
    # Counted per request (root invocation); callees are counted apart.
    roots = [invocation[r.invocation_id] for r in history.requests if r.invocation_id in invocation]
    result.invocations = {
        "sent": len(history.requests),
        "completed": sum(1 for i in roots if i.succeeded),
        "failed": sum(1 for i in roots if i.done and i.completion_result == "failure"),
        "stuck": len(history.requests) - sum(1 for i in roots if i.done),
        "callees": len(invocation) - len(roots),
    }
    result.llm_calls = tally(llm_calls(calls))
    if effects := side_effects(calls):
        result.side_effects = tally(effects)
    result.recovery_s = _recovery(history)
    result.impact = measure_impact(history, calls)  # soaks and random schedules: per-fault impact
    result.suspended = sum(1 for statuses in history.samples.statuses_seen.values() if "suspended" in statuses)
    result.stuck = [
        {"invocation": asdict(inv), "journal": [asdict(e) for e in history.journal_of(inv.id)]}
        for inv in history.invocations
        if not inv.done
    ]


def _rows(result: Judgement, history: History, calls: list[ClassifiedCall]) -> None:
    """The rows: faults, LLM and stub calls, the invocation tree and the journal."""
    t0 = history.started_at
    result.faults = [
        FaultRow(f.kind, f.target, round(f.applied_at - t0, 3),
                 round(f.undone_at - t0, 3) if f.undone_at is not None else None, f.detail or None)
        for f in history.faults
    ]
    result.leadership = [
        LeaderRow(round(c.at - t0, 3), c.partition_id, c.leader, c.epoch,
                  next((f.kind for f in history.faults if f.overlaps(c.at, c.at)), None))
        for c in history.leadership
    ]
    result.calls = [_call_row(c, t0) for c in llm_calls(calls)]
    result.side_effect_calls = [
        SideEffectRow(id=c.call.id, service=getattr(c.call, "service", ""), token=c.call.token, attempt=c.attempt,
                      class_=c.label, reason=c.reason, arrived_s=round(c.call.arrived_at - t0, 3))
        for c in side_effects(calls)
    ]
    result.timeline = [
        TimelineRow(
            invocation_id=inv.id,
            target=inv.target,
            parent=inv.invoked_by_id,
            created_s=round(inv.created_at - t0, 3) if inv.created_at else None,
            completed_s=round(inv.completed_at - t0, 3) if inv.completed_at else None,
            status=inv.status,
            result=inv.completion_result,
            output=history.outputs.get(inv.id),
            failure=inv.completion_failure,
        )
        for inv in history.invocations
    ]
    result.journal = [
        JournalRow(invocation_id=e.invocation_id, index=e.index, entry_type=e.entry_type, name=e.name,
                   appended_s=round(e.appended_at - t0, 3))
        for e in sorted(history.journal, key=lambda e: (e.invocation_id, e.index))
    ]


def _call_row(c: ClassifiedCall, t0: float) -> CallRow:
    return CallRow(
        id=c.call.id,
        invocation_id=c.invocation_id,
        token=c.call.token,
        fingerprint=c.call.fingerprint,
        attempt=c.attempt,
        class_=c.label,
        reason=c.reason,
        outcome=c.call.outcome,
        status=c.call.status,
        arrived_s=round(c.call.arrived_at - t0, 3),
        finished_s=round(c.call.finished_at - t0, 3) if c.call.finished_at else None,
        ended_s=_ended(c.call, t0),
        model=getattr(c.call, "model", None),
        tokens=_tokens(c.call),
        answer=_answer_excerpt(c.call),
        forwarded=bool(getattr(c.call, "forwarded", False)),  # answered by a real provider
        api=getattr(c.call, "api", ""),
        flaw=getattr(c.call, "flaw", None),  # the bad answer the fake gave on purpose
    )


def _verdict(info: RunInfo, history: History, findings: list[CheckResult], errors: list[str]) -> Verdict:
    """Fail on a finding that did not hold; unknown when nothing was exercised or the run had
    errors (noted in ``errors``); else pass (or expected failure). Advisories never fail a run."""
    exercised = history.exercised
    failed = any(f.failed for f in findings)
    if errors or not exercised:
        if not exercised and not errors:
            errors.append("nothing was exercised: no request, no LLM call, or a fault never fired")
        # A failed check still fails the run; otherwise we cannot say anything.
        return "fail" if failed and exercised else "unknown"
    if failed:
        return "fail"
    return "expected failure" if info.expect_failure else "pass"


def _ended(call: Any, t0: float) -> float | None:
    """When the call stopped occupying the LLM: answered, or cut off."""
    end = call.finished_at or call.disconnected_at
    return round(end - t0, 3) if end else None


def _answer_excerpt(call: Any, limit: int = 300) -> str | None:
    """What the LLM (or stub) answered, shortened: text, or the tool it called."""
    response = getattr(call, "response", None)
    if not isinstance(response, dict):
        return None
    if response.get("type") == "message":  # Anthropic Messages: its content blocks
        return json.dumps(response.get("content"))[:limit]
    if "candidates" in response:  # Gemini: the first candidate's parts
        candidate = (response.get("candidates") or [{}])[0]
        return json.dumps((candidate.get("content") or {}).get("parts"))[:limit]
    choices = response.get("choices") or [{}]
    message = choices[0].get("message") or {}
    if message.get("tool_calls"):
        return "tool call: " + ", ".join(t.get("function", {}).get("name", "?") for t in message["tool_calls"])
    text = message.get("content")
    if text is None and "output" in response:  # the Responses API
        text = json.dumps(response["output"])[:limit]
    return None if text is None else str(text)[:limit]


def _tokens(call: Any) -> int:
    usage = getattr(call, "usage", None) or {}
    return int(usage.get("total_tokens") or (usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)))


def _recovery(history: History) -> float | None:
    """From a fault being undone to the last invocation it held up completing (one open, or
    whose request was on its way, when it was undone: a partitioned ingress creates the
    invocation only after the heal): the worst case over faults undone while invocations
    were still open."""
    recoveries = []
    tried = {r.invocation_id: r.tried_at or r.sent_at for r in history.requests}
    began = {inv.id: min([t for t in (inv.created_at, tried.get(inv.id)) if t is not None], default=None)
             for inv in history.invocations}
    for fault in history.faults:
        if fault.undone_at is None:
            continue
        held_up = [
            inv.completed_at
            for inv in history.invocations
            if inv.completed_at is not None and inv.completed_at >= fault.undone_at
            and (began[inv.id] is None or began[inv.id] <= fault.undone_at)  # type: ignore[operator]
        ]
        if held_up:
            recoveries.append(max(held_up) - fault.undone_at)
    return round(max(recoveries), 3) if recoveries else None



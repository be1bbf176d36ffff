"""Results: the verdict of one scenario and the machine-readable ``results.json`` users
script against. A run in which nothing was exercised is ``unknown``, never ``pass``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .checks import Finding
from .classify import ClassifiedCall, llm_calls, side_effects, tally
from .observation import Observation

if TYPE_CHECKING:
    from .checks import Check

Verdict = Literal["pass", "fail", "expected failure", "unknown"]


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
    side_effect_calls: list[dict[str, Any]] = field(default_factory=list)
    recovery_s: float | None = None
    faults: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    journal: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)  # every invocation of the tree, for the report
    duration_s: float = 0.0
    environment_ready_s: float | None = None
    log_tails: dict[str, str] = field(default_factory=dict)
    stuck: list[dict[str, Any]] = field(default_factory=list)  # not done by the deadline: rows and journal
    always_replay: bool = False
    suspended: int = 0  # invocations seen suspended while running: evidence that always-replay took hold
    reproduce: str = ""  # the command that runs this scenario again, the same way
    seed: int | None = None
    schedule: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def explain(self) -> str:
        """The verdict with its evidence, for an assertion message."""
        lines = [f"{self.name} [{self.agent}]: {self.verdict}", *self.errors]
        lines += [f"  {'ok ' if f['ok'] else 'BAD'} {f['check']}: {f['message']}" for f in self.findings]
        lines += [f"  call #{c['id']} {c['class']}: {c['reason']}" for c in self.calls]
        lines += [f"--- {name}\n{tail}" for name, tail in self.log_tails.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class RunInfo:
    """What the judge needs to know of the run besides what it observed."""

    name: str
    agent: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    checks: "tuple[Check, ...]" = ()
    expect_failure: bool = False
    planned_faults: int = 0


def judge(info: RunInfo, obs: Observation | None, calls: list[ClassifiedCall], errors: list[str]) -> ScenarioResult:
    result = ScenarioResult(info.name, info.agent, "unknown", info.description, list(info.tags), errors=list(errors))
    if obs is None:
        return result
    t0 = obs.started_at
    invocations = obs.invocations
    # Counted per request (root invocation); callees are counted apart.
    roots = [invocations[r.invocation_id] for r in obs.requests if r.invocation_id in invocations]
    result.invocations = {
        "sent": len(obs.requests),
        "completed": sum(1 for i in roots if i.done and i.completion_result == "success"),
        "failed": sum(1 for i in roots if i.done and i.completion_result == "failure"),
        "stuck": len(obs.requests) - sum(1 for i in roots if i.done),
        "callees": len(invocations) - len(roots),
    }
    llm, effects = llm_calls(calls), side_effects(calls)
    result.llm_calls = tally(llm)
    if effects:
        result.side_effects = tally(effects)
    result.faults = [
        {
            "kind": f.kind,
            "target": f.target,
            "at_s": round(f.started_at - t0, 3),
            "healed_s": round(f.healed_at - t0, 3) if f.healed_at is not None else None,
            **({"detail": f.detail} if f.detail else {}),
        }
        for f in obs.faults
    ]
    result.recovery_s = _recovery(obs)
    result.suspended = sum(1 for statuses in obs.statuses_seen.values() if "suspended" in statuses)
    result.stuck = [
        {"invocation": row, "journal": [r for r in obs.journal_rows if r["id"] == row["id"]]}
        for row in obs.invocation_rows
        if row.get("status") != "completed"
    ]
    result.calls = [
        {
            "id": c.call.id,
            "invocation_id": c.invocation_id,
            "token": c.call.token,
            "fingerprint": c.call.fingerprint,
            "attempt": c.attempt,
            "class": c.label,
            "reason": c.reason,
            "outcome": c.call.outcome,
            "status": c.call.status,
            "arrived_s": round(c.call.arrived_at - t0, 3),
            "finished_s": round(c.call.finished_at - t0, 3) if c.call.finished_at else None,
            "ended_s": _ended(c.call, t0),
            "model": getattr(c.call, "model", None),
            "tokens": _tokens(c.call),
            "answer": _answer_excerpt(c.call),
            "forwarded": bool(getattr(c.call, "forwarded", False)),  # answered by a real provider
        }
        for c in llm
    ]
    result.side_effect_calls = [
        {"id": c.call.id, "service": getattr(c.call, "service", ""), "token": c.call.token, "attempt": c.attempt,
         "class": c.label, "reason": c.reason, "arrived_s": round(c.call.arrived_at - t0, 3)}
        for c in effects
    ]
    result.timeline = [
        {
            "invocation_id": inv.id,
            "target": inv.target,
            "parent": inv.invoked_by_id,
            "created_s": round(inv.created_at - t0, 3) if inv.created_at else None,
            "completed_s": round(inv.completed_at - t0, 3) if inv.completed_at else None,
            "status": inv.status,
            "result": inv.completion_result,
            "output": obs.outputs.get(inv.id),
            "failure": inv.completion_failure,
        }
        for inv in invocations.values()
    ]
    result.journal = [
        {"invocation_id": e.invocation_id, "index": e.index, "entry_type": e.entry_type, "name": e.name,
         "appended_s": round(e.appended_at - t0, 3)}
        for e in obs.journal
    ]
    findings: list[Finding] = [check.evaluate(obs, calls) for check in info.checks]
    result.findings = [asdict(f) for f in findings]
    exercised = bool(obs.requests) and bool(obs.calls) and len(obs.faults) == info.planned_faults
    if errors or not exercised:
        if not exercised and not errors:
            result.errors.append("nothing was exercised: no request, no LLM call, or a fault never fired")
        # A failed check still fails the run; otherwise we cannot say anything.
        result.verdict = "fail" if any(not f.ok for f in findings) and exercised else "unknown"
        return result
    if all(f.ok for f in findings):
        result.verdict = "expected failure" if info.expect_failure else "pass"
    else:
        result.verdict = "fail"
    return result


def _ended(call: Any, t0: float) -> float | None:
    """When the call stopped occupying the LLM: answered, or cut off."""
    end = call.finished_at or call.disconnected_at
    return round(end - t0, 3) if end else None


def _answer_excerpt(call: Any, limit: int = 300) -> str | None:
    """What the LLM (or stub) answered, shortened: text, or the tool it called."""
    response = getattr(call, "response", None)
    if not isinstance(response, dict):
        return None
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


def _recovery(obs: Observation) -> float | None:
    """From a fault healing to the last invocation it held up completing: the worst case
    over faults that healed while invocations were still open."""
    done = [i.completed_at for i in obs.invocations.values() if i.completed_at is not None]
    if not done:
        return None
    finished = max(done)
    recoveries = [finished - f.healed_at for f in obs.faults if f.healed_at is not None and f.healed_at <= finished]
    return round(max(recoveries), 3) if recoveries else None


def write_results(results: list[ScenarioResult], out_dir: Path, meta: dict[str, Any]) -> Path:
    """Write ``results.json`` and the HTML report, atomically and after every scenario, so
    an interrupted run keeps what it measured. Secrets are redacted in both."""
    from .report import write_report  # matplotlib and jinja2 only when writing
    from .report.redact import redact_data

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    tmp = path.with_suffix(".tmp")
    document = {"meta": meta, "scenarios": [r.to_json() for r in results]}
    tmp.write_text(json.dumps(redact_data(document), indent=2, default=str))
    tmp.replace(path)
    write_report(out_dir, out_dir.parent)
    return path

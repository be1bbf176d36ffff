"""The diagnosis: one row per bug class, from the oracles' findings over every run of the
plan. A failed row names the run that exposed it, the call or journal entry involved, why
it is a bug, and the fix in Restate terms."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ClassVerdict = Literal["pass", "fail", "skipped"]

# oracle (finding name) -> bug class
CLASS_OF = {
    "no duplicate LLM calls": "duplicate_llm_call",
    "no duplicate side effects": "duplicate_side_effect",
    "no duplicate child work": "duplicate_child_work",
    "deterministic replay": "non_determinism",
    "same answer as the baseline": "degraded_answer",
    "bounded retries": "retry_storm",
    "every invocation reached an outcome": "stuck_invocation",
}

WHY = {
    "duplicate_llm_call": "An LLM call was made again after its answer had been journaled or had already driven "
    "progress. A call outside a journaled step is re-executed on every replay, so a crash or a suspension repeats it: "
    "you pay twice and may get a different answer.",
    "duplicate_side_effect": "A side effect (a call to an outside service) happened again after it had driven "
    "journaled progress: made outside a journaled step, it is repeated on every retry, e.g. a refund issued twice.",
    "duplicate_child_work": "One request started the same child handler more often than the baseline did. Child work "
    "started over plain HTTP (not through the Restate context) is invisible to the journal, so every retry starts it anew.",
    "non_determinism": "Restate reported a journal mismatch (RT0016): on replay the handler took another path than the "
    "one journaled, because it branched on something not journaled (randomness, the clock, an outside read).",
    "degraded_answer": "Under a transient fault the agent ended with a different answer than its fault-free baseline: it "
    "caught the failure and committed a fallback instead of letting Restate retry.",
    "retry_storm": "With the LLM down for good the agent kept calling it without bound (or never reached an outcome): "
    "retries hidden from Restate, e.g. an SDK's own retries or a loop inside a step with no attempt limit.",
    "stuck_invocation": "An invocation never reached an outcome: it hangs (an outside call with no timeout), or it is "
    "paused or backing off for good.",
}

FIX = {
    "duplicate_llm_call": "Make every LLM call inside a journaled step: `await ctx.run_typed(\"call LLM\", call_llm, "
    "RunOptions(max_attempts=...))` (TypeScript: `ctx.run(\"call LLM\", () => ...)`), or use Restate's integration for "
    "your framework (restate.ext.openai, restate.ext.pydantic), which journals each model call.",
    "duplicate_side_effect": "Wrap the side effect in `ctx.run_typed(...)` so its result is journaled once; give the "
    "outside API an idempotency key derived from `ctx.request().id` for the attempt that dies before journaling.",
    "duplicate_child_work": "Call other agents through the context (`ctx.service_call`, `ctx.generic_call`, or a "
    "generated client), not over HTTP to the ingress; if you must use HTTP, send an `idempotency-key` header derived "
    "from the invocation id.",
    "non_determinism": "Move randomness, time and outside reads into `ctx.run_typed(...)` (or use `ctx.random()`, "
    "`ctx.time()` / `ctx.date.now()`), so replay sees the journaled value; branch only on journaled values.",
    "degraded_answer": "Do not catch transient LLM errors to return a fallback; let the step raise so Restate retries it "
    "(bounded by `RunOptions(max_attempts=..., max_duration=...)`), and raise `TerminalError` only for failures that "
    "retrying cannot fix.",
    "retry_storm": "Turn the client's own retries off (`max_retries=0`) and bound the step: "
    "`RunOptions(max_attempts=6, max_duration=timedelta(seconds=30))`, so Restate retries with back-off and fails "
    "the invocation terminally when the LLM stays down.",
    "stuck_invocation": "Give every outside call a timeout (e.g. `AsyncOpenAI(timeout=...)`), bound the step's "
    "retries, and check the invocation's `last_failure` in `sys_invocation` for what it waits on.",
}


@dataclass
class ClassRow:
    verdict: ClassVerdict
    scenario: str | None = None
    why: str = ""
    fix: str = ""
    evidence: str = ""  # the call or journal entry involved, as the oracle said it
    exercised_by: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProbeOutcome:
    """What one run of the plan showed: the oracles' findings, by name (None: not exercised)."""

    probe: str
    verdict: str
    findings: dict[str, tuple[bool, str]]  # oracle name -> (ok, message)
    skipped: str | None = None


def diagnose(outcomes: list[ProbeOutcome]) -> dict[str, ClassRow]:
    rows = {cls: ClassRow("skipped", why="no run of the plan exercised this class") for cls in WHY}
    for outcome in outcomes:
        if outcome.skipped or outcome.verdict == "unknown":
            continue
        failed = {CLASS_OF[name] for name, (ok, _) in outcome.findings.items() if name in CLASS_OF and not ok}
        if "non_determinism" in failed:  # a mismatch stops the invocation: its symptoms are not classes of their own
            failed -= {"stuck_invocation", "degraded_answer"}
        for name, (ok, message) in outcome.findings.items():
            cls = CLASS_OF.get(name)
            if cls is None:
                continue
            row = rows[cls]
            row.exercised_by.append(outcome.probe)
            if cls in failed and row.verdict != "fail":
                rows[cls] = ClassRow("fail", outcome.probe, WHY[cls], FIX[cls], message, row.exercised_by)
            elif row.verdict == "skipped":
                row.verdict, row.why = "pass", ""
    return rows


def classes_json(rows: dict[str, ClassRow]) -> dict[str, dict[str, Any]]:
    return {cls: {k: v for k, v in asdict(row).items() if v not in (None, "", [])} | {"verdict": row.verdict}
            for cls, row in rows.items()}

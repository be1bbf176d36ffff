"""The diagnosis: one row per bug class, from the checks' results over every run of the
plan. A finding fails its row; it names the run that exposed it, the call or journal entry
involved, why it is a bug, and the fix in Restate terms. Advisories are listed under their
class with figures and a fix, and fail it only when the user asked (``--fail-on``). A
symptom of another finding in the same run (a different answer after a journal mismatch)
is listed under its cause, not as a failure of its own."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from harness.checker.checks import BUG_CLASSES
from harness.errors import HarnessError
from harness.results.schema import FindingRow

ClassVerdict = Literal["pass", "fail", "advisory", "caused", "skipped"]

# A finding of the key's class explains findings of these classes in the same run (a child
# started twice makes its own calls twice; a replay down another path answers otherwise).
SYMPTOMS = {
    "non_determinism": ("degraded_answer", "stuck_invocation", "duplicate_child_work"),
    "duplicate_llm_call": ("degraded_answer",),
    "duplicate_side_effect": ("degraded_answer",),
    "duplicate_child_work": ("degraded_answer", "duplicate_llm_call", "duplicate_side_effect"),
}
# ... and in any run: an agent shown not to be deterministic answers differently anyway, so a
# different answer under a fault proves no fallback.
SYMPTOMS_ANYWHERE = {"non_determinism": ("degraded_answer",)}

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
    "degraded_answer": "Under a transient fault the agent committed another answer than its fault-free baseline's, as "
    "a success: it caught the failure and returned a fallback, or it took a bad answer of the LLM (empty, cut short, "
    "tool arguments that do not parse) for a good one. Nothing raised inside the step, so Restate had nothing to "
    "retry, and the request's work is lost to its user.",
    "poisoned_journal": "A bad answer of the LLM (empty, cut short, a refusal, JSON that breaks its schema, tool "
    "arguments that do not parse) was journaled as the result of the step that asked for it, and parsed or validated "
    "only after that step. Every retry replays the journaled answer and fails on it again: the invocation can never "
    "recover, even once the LLM answers well, because the call is never made again.",
    "retry_storm": "While the LLM was down the agent multiplied every Restate attempt into many calls: retries "
    "hidden from Restate (an SDK's own retries, a loop inside a step), so an outage costs that many times the calls, "
    "with no back-off Restate can see.",
    "stuck_invocation": "An invocation could not finish after every fault had healed and Restate's own timeouts had "
    "had their turn: it waits on something nothing will give it (its own key's lock, a promise nobody resolves), "
    "or it fails the same way on every retry.",
}

FIX = {
    "duplicate_llm_call": "Make every LLM call inside a journaled step: `await ctx.run_typed(\"call LLM\", call_llm, "
    "RunOptions(max_attempts=...))` (TypeScript: `ctx.run(\"call LLM\", () => ...)`), or use Restate's integration for "
    "your framework (restate.ext.openai, restate.ext.pydantic, restate.ext.langchain's `RestateMiddleware`, "
    "restate.ext.adk's `RestatePlugin`), which journals each model call.",
    "duplicate_side_effect": "Wrap the side effect in `ctx.run_typed(...)` (TypeScript: `ctx.run(...)`) so its "
    "result is journaled once; give the "
    "outside API an idempotency key derived from `ctx.request().id` for the attempt that dies before journaling.",
    "duplicate_child_work": "Call other agents through the context (`ctx.service_call`, `ctx.generic_call`, or a "
    "generated client), not over HTTP to the ingress; if you must use HTTP, send an `idempotency-key` header derived "
    "from the invocation id.",
    "non_determinism": "Move randomness, time and outside reads into `ctx.run_typed(...)` (or use `ctx.random()`, "
    "`ctx.time()` / `ctx.date.now()`), so replay sees the journaled value; branch only on journaled values.",
    "degraded_answer": "Do not catch transient LLM errors to return a fallback; let the step raise so Restate retries it "
    "(bounded by `RunOptions(max_attempts=..., max_duration=...)`), and raise `TerminalError` only for failures that "
    "retrying cannot fix.",
    "poisoned_journal": "Parse and validate the answer inside the step; raise there so Restate retries the call: "
    "e.g. `json.loads` / `Model.model_validate_json` on `message.content` or on a tool call's `arguments` inside the "
    "function given to `ctx.run_typed`, which then journals the parsed value. Ask for a strict schema "
    "(`strict: true`) where the provider enforces one.",
    "retry_storm": "Let Restate own the retries: turn the client's off (`max_retries=0`), take retry loops out of "
    "steps, and bound the step if a request should fail rather than wait: `RunOptions(max_attempts=6, "
    "max_duration=timedelta(seconds=60))`.",
    "stuck_invocation": "See what it waits on (`sys_invocation`'s status and `last_failure`, its journal's last "
    "command): never call an exclusive handler of the Virtual Object's own key from inside it (use a shared "
    "handler, or `ctx.object_send`), and resolve every promise and awakeable from journaled work.",
}


@dataclass(frozen=True)
class Advisory:
    """A liveness or cost observation of one run: figures and what to do about them."""

    probe: str
    check: str
    message: str
    advice: str


@dataclass
class ClassRow:
    verdict: ClassVerdict
    scenario: str | None = None
    why: str = ""
    fix: str = ""
    evidence: str = ""  # the call or journal entry involved, as the check said it
    exercised_by: list[str] = field(default_factory=list)
    advisories: list[Advisory] = field(default_factory=list)
    caused_by: str | None = None  # the class whose finding this symptom came from
    promoted: bool = False  # an advisory the user made a failure (--fail-on)


@dataclass(frozen=True)
class ProbeOutcome:
    """What one run of the plan showed: its verdict and every check's result."""

    probe: str
    verdict: str
    findings: tuple[FindingRow, ...] = ()
    skipped: str | None = None


def fail_on_classes(text: str) -> frozenset[str]:
    """``--fail-on``: bug classes, comma-separated, each named in full or by a prefix only it
    has (``stuck``), or ``all``. Anything else is one line."""
    chosen = set()
    for word in (w.strip() for w in text.split(",")):
        if word == "all":
            chosen.update(BUG_CLASSES)
            continue
        matches = ([c for c in BUG_CLASSES if c == word] or [c for c in BUG_CLASSES if c.startswith(word)]) if word else []
        if len(matches) != 1:
            raise HarnessError(f"--fail-on {text!r}: {word!r} is not a bug class; choose from {', '.join(BUG_CLASSES)}")
        chosen.add(matches[0])
    return frozenset(chosen)


def diagnose(outcomes: list[ProbeOutcome], fail_on: frozenset[str] = frozenset()) -> dict[str, ClassRow]:
    rows = {cls: ClassRow("skipped", why="no run of the plan exercised this class") for cls in BUG_CLASSES}
    failed: dict[str, tuple[str, str, str]] = {}  # class -> (probe, message, advice) of its first finding
    caused: dict[str, tuple[str, str, str]] = {}  # class -> (cause, probe, message) of its first symptom
    for outcome in outcomes:
        if outcome.skipped or outcome.verdict == "unknown":
            continue
        results = [f for f in outcome.findings if f.bug_class in rows and f.exercised]
        here = {f.bug_class for f in results if f.failed}
        for f in results:
            cls = str(f.bug_class)
            row = rows[cls]
            if outcome.probe not in row.exercised_by:
                row.exercised_by.append(outcome.probe)
            if f.failed:
                cause = _cause(cls, here)
                if cause is None:
                    failed.setdefault(cls, (outcome.probe, f.message, f.advice))
                else:
                    caused.setdefault(cls, (cause, outcome.probe, f.message))
            elif not f.ok:
                row.advisories.append(Advisory(outcome.probe, f.check, f.message, f.advice))
    for root, symptoms in SYMPTOMS_ANYWHERE.items():
        for cls in symptoms:
            if root in failed and cls in failed:
                probe, message, _ = failed.pop(cls)
                caused.setdefault(cls, (root, probe, message))
    for cls, row in rows.items():
        if cls in failed:
            probe, message, advice = failed[cls]  # a check that knows the mechanism it saw gives its own fix
            rows[cls] = ClassRow("fail", probe, WHY[cls], advice or FIX[cls], message, row.exercised_by, row.advisories)
        elif row.advisories and cls in fail_on:
            first = row.advisories[0]
            rows[cls] = ClassRow("fail", first.probe, WHY[cls], first.advice or FIX[cls], first.message,
                                 row.exercised_by, row.advisories, promoted=True)
        elif cls in caused:
            cause, probe, message = caused[cls]
            row.verdict, row.scenario, row.caused_by = "caused", probe, cause
            row.evidence = message
            row.why = f"a symptom of the {cause} finding in the same run, not a bug of its own"
        elif row.advisories:
            row.verdict, row.why = "advisory", ""
        elif row.exercised_by:
            row.verdict, row.why = "pass", ""
    return rows


def _cause(cls: str, failed_here: set[str]) -> str | None:
    """The class whose finding in the same run explains a finding of ``cls``: the first, in
    BUG_CLASSES order, among those not themselves explained by another (a root cause)."""
    causes = [c for c in BUG_CLASSES if c in failed_here and c != cls and cls in SYMPTOMS.get(c, ())]
    roots = [c for c in causes if not any(c in SYMPTOMS.get(other, ()) for other in failed_here if other != c)]
    return (roots or causes or [None])[0]


def classes_json(rows: dict[str, ClassRow]) -> dict[str, dict[str, Any]]:
    return {cls: {k: v for k, v in asdict(row).items() if v not in (None, "", [], False)} | {"verdict": row.verdict}
            for cls, row in rows.items()}

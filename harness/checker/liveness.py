"""Liveness, judged as Jepsen judges it: every fault heals, then every invocation must reach
an outcome within a bound derived from the Restate settings of that run. An invocation
that cannot finish once everything healed is a finding; how long a hang held a request,
and what ended it, is an advisory with what Restate's production settings would mean."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from harness.checker.check import Check, CheckResult
from harness.checker.classify import ClassifiedCall
from harness.checker.poisoned import poisoned_requests
from harness.history import History, Invocation
from harness.restate_settings import PRODUCTION, RestateSettings, duration

# An openai SDK client left at its defaults: 600 s per request, 2 retries (3 tries).
OPENAI_DEFAULT_TIMEOUT_S = 600.0


def deadlock(history: History, invocation_id: str) -> str | None:
    """The call, in words, by which a Virtual Object's handler waits on its own key: the
    callee is queued behind the caller, which holds the key until the callee answers."""
    inv = history.invocation.get(invocation_id)
    if inv is None or inv.status not in ("suspended", "pending"):
        return None
    for callee in history.callees_of(invocation_id):
        if not callee.done and _same_key(inv, callee):
            return (f"a call to {callee.target}, its own key: that exclusive handler is queued behind the caller, "
                    "which holds the key until the callee answers (a deadlock)")
    return None


def waits_on(history: History, invocation_id: str) -> str | None:
    """What a suspended or pending invocation waits on, in words, when nothing in the run
    can give it: its own key's lock (a deadlock), a durable promise, an awakeable. None
    when it waits on its own work."""
    inv = history.invocation.get(invocation_id)
    if inv is None or inv.status not in ("suspended", "pending"):
        return None
    if (found := deadlock(history, invocation_id)) is not None:
        return found
    if any(not callee.done for callee in history.callees_of(invocation_id)):
        return None
    journal = history.journal_of(invocation_id)
    answered = {e.completion_id for e in journal if e.entry_type.startswith("Notification")}
    pending = [e for e in journal if e.entry_type.startswith("Command") and e.completion_id is not None
               and e.completion_id not in answered]
    for entry in pending:
        if entry.entry_type in ("Command: GetPromise", "Command: PeekPromise"):
            key = (entry.detail.get("Command", {}).get(entry.entry_type.split(": ")[1]) or {}).get("key", "?")
            return f"the durable promise '{key}' ({entry.describe()})"
        if entry.entry_type in ("Command: Call", "Command: Sleep", "Command: Run"):
            return None
    if inv.status == "pending":
        return None
    return "an awakeable or signal (nothing it journaled is pending: it waits for someone to complete it)"


def _same_key(caller: Invocation, callee: Invocation) -> bool:
    """Both are handlers of one Virtual Object key (``Service/key/handler``)."""
    mine, theirs = caller.target.split("/"), callee.target.split("/")
    return len(mine) == 3 and len(theirs) == 3 and mine[:2] == theirs[:2]


@dataclass(frozen=True)
class RecoversAfterHealing(Check):
    """Every invocation reached an outcome (either one) within a bound of the last fault
    healing: ``bound_s``, or else what the run's recorded Restate settings allow for an agent
    whose fault-free run took ``baseline_s`` (``recovery_bound``; production's when the run
    did not record them). An invocation still open after it cannot finish; a run that ended
    sooner says nothing either way."""

    name: ClassVar[str] = "finishes after every fault healed"
    bug_class: ClassVar[str | None] = "stuck_invocation"
    bound_s: float | None = None
    baseline_s: float = 0.0

    def bound(self, history: History) -> float:
        if self.bound_s is not None:
            return self.bound_s
        return recovery_bound(history.restate or PRODUCTION, self.baseline_s)

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        bound = self.bound(history)
        if any(f.undone_at is None for f in history.faults):
            return self.result(True, "a fault lasted to the end of the run: liveness is not judged", exercised=False)
        healed = max([history.started_at] + [max(f.undone_at or 0.0, f.settled_at or 0.0) for f in history.faults])
        ended = history.ended_at or healed
        # A request a journaled bad answer keeps from finishing is the poisoned_journal check's
        # finding, with the step and the answer as evidence: judged here too, it would report
        # the cause's symptom as a second class. Judged per request, so another request of the
        # same run stuck for its own reason is still named here.
        poisoned = poisoned_requests(history, calls)
        tree = [i for r in history.requests if r.invocation_id not in poisoned for i in history.tree_of(r.invocation_id)]
        open_ = [history.invocation[i] for i in tree if i in history.invocation and not history.invocation[i].done]
        if not history.requests:
            return self.result(False, "no request was sent", exercised=False)
        aside = f"; {len(poisoned)} request(s) kept by a poisoned journal (judged as poisoned_journal)" if poisoned else ""
        if not open_:
            done = [history.invocation[i].completed_at or healed for i in tree if i in history.invocation]
            recovery = max(0.0, max(done, default=healed) - healed)
            if not tree:
                return self.result(True, "every request is kept by a poisoned journal (judged as poisoned_journal)",
                                   exercised=False)
            return self.result(True, f"every invocation reached an outcome, {recovery:.1f} s after the last fault "
                                     f"healed{aside}")
        if ended - healed < bound:  # the run stopped early (a journal mismatch): too soon to say
            return self.result(True, f"{len(open_)} invocation(s) still open {ended - healed:.0f} s after healing, "
                                     f"before the bound of {bound:.0f} s: not judged", exercised=False)
        root = next((inv for inv in open_ if inv.invoked_by_id is None), open_[0])
        stuck_on = next((w for inv in open_ if (w := waits_on(history, inv.id))), None)
        why = (f"{root.id} ({root.target}) is still {root.status} {ended - healed:.0f} s after every fault healed "
               f"(bound {bound:.0f} s)")
        if stuck_on:
            why += f": it waits on {stuck_on}, which nothing in the run will resolve"
        elif root.last_failure:
            why += f": last failure {root.last_failure[:200]}"
        return self.result(False, why)


def recovery_bound(settings: RestateSettings, baseline_s: float) -> float:
    """How long after healing an invocation may take to finish: one hang ended by Restate
    (inactivity + abort), one retry interval, twice the fault-free run, and 10 s for the
    process and SDK around them (measured: the retry came 5 s after the abort fired)."""
    return settings.hang_bound_s + settings.retry.max_interval_s + 2 * baseline_s + 10.0


@dataclass(frozen=True)
class HangEnded(Check):
    """An advisory on a run whose LLM hung: what ended the hung call (the agent's client
    timeout, or Restate aborting the attempt), after how long, and what the same hang
    would cost under Restate's production settings."""

    name: ClassVar[str] = "a hung LLM call is ended by the client's timeout"
    bug_class: ClassVar[str | None] = "stuck_invocation"

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        rules = {str(f.detail.get("rule_id")) for f in history.faults if f.kind == "llm_hang"}
        hung = [c for c in history.llm_calls if c.rule_id in rules]
        if not hung:
            return self.result(True, "no LLM call hung", exercised=False)
        settings = history.restate or PRODUCTION  # someone else's server: assume its defaults
        call = hung[0]
        end = call.disconnected_at or call.finished_at or call.released_at
        if end is None:
            return self.result(True, f"LLM call #{call.id} hung until the end of the run", exercised=False)
        held = end - call.arrived_at
        aborted = any("RT0001" in f or "abort timeout" in f for fs in history.samples.failures_seen.values() for f in fs)
        if not aborted and held < settings.hang_bound_s:
            return self.result(True, f"LLM call #{call.id} hung; the agent's own client timeout ended it after "
                                     f"{duration(held)}, and Restate retried the step")
        production = PRODUCTION.hang_bound_s
        return self.result(
            False,
            f"LLM call #{call.id} hung and held the request {duration(held)}, until Restate aborted the attempt "
            f"(inactivity {duration(settings.inactivity_s)} + abort {duration(settings.abort_s)} in this run): the "
            f"agent's client had not timed out by then (its timeout, if it has one, is longer than "
            f"{duration(settings.hang_bound_s)}). With Restate's defaults (inactivity {duration(PRODUCTION.inactivity_s)}"
            f" + abort {duration(PRODUCTION.abort_s)}) the same hang holds a request up to {duration(production)}, "
            f"or until the client's own timeout if that is shorter (the openai SDK's default: "
            f"{duration(OPENAI_DEFAULT_TIMEOUT_S)} per try)",
            advice="give the LLM client a timeout that fits one answer, e.g. `AsyncOpenAI(timeout=30, max_retries=0)`: "
                   "a hung call then fails in seconds and Restate retries the step",
        )

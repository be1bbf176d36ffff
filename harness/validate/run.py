"""Validation end to end: discover and learn the baseline, print the plan, run it, diagnose."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.env.cleanup import Cleanup
from harness.env.environment import Environment
from harness.env.forkserver import ForkServer
from harness.errors import HarnessError
from harness.checker.checks import masked, same_answer
from harness.checker.liveness import deadlock, waits_on
from harness.history import History, Invocation
from harness.results.schema import ScenarioResult
from harness.runner.batch import Batch
from harness.runner.live import LiveRun
from harness.settings import Settings
from harness.settings import Tape
from harness.validate.baseline import Baseline
from harness.validate.cassettes import CassetteReport, recorded_exchanges, replaying
from harness.validate.diagnosis import FIX, WHY, ClassRow, ProbeOutcome, classes_json, diagnose
from harness.validate.agent import AgentUnderTest
from harness.validate.discover import Entry, choose_entry, default_input
from harness.validate.plan import Probe, make_plan
from harness.workload import Requests

Say = Callable[[str], None]


class NeedsInput(HarnessError):
    """The entry waits on something from outside (an awakeable, a durable promise): it is
    reported as needing input, never as hung, nor as passed."""


@dataclass
class Validation:
    agent: str
    entry: str
    baseline: Baseline | None  # None: the baseline itself never finished (stuck)
    plan: list[Probe]
    results: list[ScenarioResult] = field(default_factory=list)
    outcomes: list[ProbeOutcome] = field(default_factory=list)
    classes: dict[str, ClassRow] = field(default_factory=dict)
    fail_on: frozenset[str] = frozenset()
    cassette: CassetteReport | None = None  # validated on recorded answers (--record, --cassette)

    @property
    def green(self) -> bool:
        """No finding: nothing lost or done twice, no wrong answer, nothing that cannot finish
        (and no advisory the user asked to fail on)."""
        return all(row.verdict != "fail" for row in self.classes.values())

    @property
    def advisories(self) -> int:
        return sum(len(row.advisories) for row in self.classes.values() if row.verdict != "fail")

    def summary(self) -> str:
        """The verdict in one line: ``green: no safety finding; 2 advisories``."""
        failed = [cls for cls, row in self.classes.items() if row.verdict == "fail"]
        notes = f"{self.advisories} advisor{'y' if self.advisories == 1 else 'ies'}"
        if not failed:
            return f"green: no safety finding; {notes}"
        return f"red: {len(failed)} finding{'s' if len(failed) > 1 else ''} ({', '.join(failed)}); {notes}"

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "entry": self.entry,
                "baseline": self.baseline.describe() if self.baseline else "did not finish",
                "baseline_answer": self.baseline.output if self.baseline else None,
                "plan": [p.name for p in self.plan], "summary": self.summary(), "green": self.green,
                "fail_on": sorted(self.fail_on), "classes": classes_json(self.classes),
                **({"cassette": self.cassette.to_json()} if self.cassette else {})}


def learn_baseline(
    agent: AgentUnderTest, folder: Path, *, settings: Settings, cleanup: Cleanup, launcher: ForkServer | None = None
) -> tuple[Entry, Requests, Baseline | str, dict[str, str]]:
    """Start the deployments fault-free, discover the entry, send one request, and learn;
    or, when the baseline itself can never finish (a deadlock), say what it is stuck on."""
    with Environment(agent.agents, folder / "baseline", settings=settings, cleanup=cleanup, launcher=launcher) as env:
        callees = {s.name for d in list(env.deployments.values())[1:] for s in d.services} if len(env.deployments) > 1 else set()
        entry = choose_entry(env.deployments.values(), agent.entry, callees=callees)
        if agent.key is not None and not entry.keyed:
            raise HarnessError(f"--key {agent.key!r}: {entry} is a plain Service, which has no key "
                               "(--key is for a Virtual Object or a Workflow)")
        payload = agent.input if agent.input is not None else default_input(entry)
        key = agent.key if agent.key is not None else ("{token}" if entry.keyed else None)
        workload = Requests(entry.service, entry.handler, payload, key=key, idempotency_header=entry.kind != "Workflow")
        env.llm.on().auto()  # unscripted, as in every run of the plan
        run = LiveRun(env)
        run.send(workload)
        history = run.observe(deadline_s=30.0, stop_when=_Waiting())
        agent_of = {s.name: name for name, d in env.deployments.items() for s in d.services}
        stuck = _check_baseline(history, run.errors, entry)
        if stuck is not None:
            return entry, workload, stuck, agent_of
        baseline = Baseline.learn(history)
        again = _answer_again(env, workload)
    repeatable = again is _UNKNOWN or same_answer(again, baseline.output)
    return entry, workload, replace(baseline, repeatable=repeatable), agent_of


_UNKNOWN = object()


def _answer_again(env: Environment, workload: Requests) -> Any:
    """The answer (token masked) of one more fault-free request; ``_UNKNOWN`` if it did not
    finish well, which then takes nothing away from the checks."""
    again = LiveRun(env)
    again.send(replace(workload, n=1))
    history = again.observe(deadline_s=30.0, stop_when=_Waiting())
    request = history.requests[0] if history.requests else None
    inv = history.invocation.get(request.invocation_id) if request else None
    if request is None or inv is None or not inv.succeeded:
        return _UNKNOWN
    return masked(history.outputs.get(inv.id), request.token)


@dataclass
class _Waiting:
    """Fault-free, an invocation that stays suspended waits on something from outside (an
    awakeable, a durable promise, a human): stop the baseline there, rather than at the
    deadline. Suspended for 5 s on end (at the observer's pace of 10 polls a second), so a
    router suspended while its callee works does not count."""

    seen: int = 0

    def __call__(self, rows: list[Invocation]) -> bool:
        self.seen = self.seen + 1 if rows and all(r.status == "suspended" for r in rows) else 0
        return self.seen >= 50


def _check_baseline(history: History, errors: list[str], entry: Entry) -> str | None:
    """Bad input raises; a baseline stuck for good (waiting on its own key) is returned as
    the stuck finding it is; a baseline waiting on outside input needs input."""
    root = history.invocation.get(history.requests[0].invocation_id) if history.requests else None
    if root is None:
        raise HarnessError(f"the baseline sent no request to {entry}: {'; '.join(errors) or 'no invocation'}")
    for inv_id in history.tree_of(root.id):
        if (cycle := deadlock(history, inv_id)) is not None:
            return f"{history.invocation[inv_id].target} waits on {cycle}, with no fault at all"
        if (waiting := waits_on(history, inv_id)) is not None:
            raise NeedsInput(f"{entry} needs input: {history.invocation[inv_id].target} waits on {waiting}; "
                             "validation covers handlers that finish on their own")
    if not root.succeeded:
        why = root.completion_failure or root.last_failure or root.status
        raise HarnessError(f"the agent's baseline run of {entry} did not succeed without any fault: {why}")
    return None


def validate_agent(
    agent: AgentUnderTest,
    out: Path,
    *,
    budget: str = "quick",
    say: Say = print,
    settings: Settings | None = None,
    cleanup: Cleanup | None = None,
    workers: int = 1,
    fail_on: frozenset[str] = frozenset(),
    expect_terminal_within_s: float | None = None,
    tape: Tape | None = None,
) -> Validation:
    """Validate ``agent``: every run's folder goes under ``out`` (a batch of its own; see
    ``validate_in``). ``cleanup``: the one that owns every process (None: one of its own)."""
    settings = settings or Settings()
    with ExitStack() as stack:
        cleanup = cleanup or stack.enter_context(Cleanup())
        batch = stack.enter_context(Batch(out, settings, cleanup, workers=workers, save_each=False))
        return validate_in(batch, agent, budget=budget, say=say, fail_on=fail_on,
                           expect_terminal_within_s=expect_terminal_within_s, tape=tape)


def validate_in(
    batch: Batch,
    agent: AgentUnderTest,
    *,
    budget: str = "quick",
    say: Say = print,
    fail_on: frozenset[str] = frozenset(),
    expect_terminal_within_s: float | None = None,
    tape: Tape | None = None,
) -> Validation:
    """Validate ``agent`` in ``batch``: learn the baseline, print the plan, run its probes
    on the batch's workers (their results are the batch's, in the plan's order) and
    diagnose; ``validation.json`` goes into the batch's folder. ``tape``: a cassette to
    record the baseline's LLM calls into first, or to replay (``harness.validate.cassettes``).
    Raises ``HarnessError`` for bad input (an unknown entry, a deployment that does not
    start or register, a baseline that fails with no fault at all). ``fail_on``: bug
    classes whose advisories count as failures; ``expect_terminal_within_s``: the agent
    must fail terminally that soon once the LLM is down (opt-in)."""
    recorded, logs = None, (batch.folder / "cassette-baseline.jsonl", batch.folder / "cassette-runs.jsonl")
    settings = plan_settings = batch.settings
    if tape is not None and tape.record:  # the real provider answers the baseline once; everything after replays it
        started = time.time()
        learn_baseline(agent, batch.folder / "recording", settings=replace(settings, cassette=tape),
                       cleanup=batch.cleanup, launcher=batch.launcher)
        recorded = recorded_exchanges(tape)
        say(f"recorded {recorded} LLM exchanges in {time.time() - started:.1f}s to {tape.path}")
    if tape is not None:
        settings = replace(settings, cassette=replaying(tape, logs[0]))
        plan_settings = replace(settings, cassette=replaying(tape, logs[1]))
    started = time.time()
    entry, workload, baseline, agent_of = learn_baseline(agent, batch.folder, settings=settings,
                                                         cleanup=batch.cleanup, launcher=batch.launcher)
    if isinstance(baseline, str):  # stuck with no fault at all: nothing else can be judged
        say(f"validate {agent.label}: entry {entry}: the fault-free baseline never finished: {baseline}")
        validation = _stuck_baseline(agent, entry, baseline, fail_on)
    else:
        say(f"validate {agent.label}: entry {entry}, baseline in {time.time() - started:.1f}s: {baseline.describe()}")
        plan = make_plan(baseline, agent_of, budget=budget, expect_terminal_within_s=expect_terminal_within_s)
        validation = Validation(agent.label, str(entry), baseline, plan, fail_on=fail_on)
        _run_plan(batch, agent, workload, validation, budget=budget, say=say, settings=plan_settings)
        _diagnose(validation, baseline, fail_on)
        if tape is not None:
            validation.cassette = CassetteReport.read(tape, *logs, validation.results, recorded)
    (batch.folder / "validation.json").write_text(json.dumps(validation.to_json(), indent=2))
    return validation


def _run_plan(batch: Batch, agent: AgentUnderTest, workload: Requests, validation: Validation, *, budget: str,
              say: Say, settings: Settings) -> None:
    """Print the plan, then run each probe the agent allows (one that kills a deployment
    given by ``--url`` is skipped), ``batch.workers`` side by side: runs are independent (a
    run reuses an environment only once the one before left it clean). Results and outcomes
    keep the plan's order."""
    managed = {a.name for a in agent.agents if a.url is None}
    skipped = {probe.name for probe in validation.plan if probe.needs_processes and not probe.killed_agents <= managed}
    say(f"plan ({budget}, {len(validation.plan)} runs):")
    for probe in validation.plan:
        say(f"  {'skip' if probe.name in skipped else '-   '} {probe.name}: {probe.description}")
    runnable = [probe for probe in validation.plan if probe.name not in skipped]

    def on_result(index: int, result: ScenarioResult) -> None:
        result.agent = agent.label
        if result.verdict != "unknown" and _too_late(result):
            result.verdict = "unknown"
            result.errors.append("every fault came after every request had finished: nothing was exercised")
        # Bug classes, not check names: a check is named for what must hold, which reads backwards after "fail".
        bad = list(dict.fromkeys(str(f.bug_class or f.check) for f in result.findings if f.failed))
        noted = list(dict.fromkeys(str(f.bug_class or f.check) for f in result.findings
                                   if not f.ok and not f.failed and f.exercised))
        say(f"  {runnable[index].name}: {result.verdict}" + (f" ({', '.join(bad)})" if bad else "")
            + (f" [advisory: {', '.join(noted)}]" if noted else "")
            + (f" [{result.errors[0].splitlines()[0]}]" if result.errors and result.verdict == "unknown" else ""))

    results = batch.run([probe.to_scenario(agent.agents, workload) for probe in runnable], on_result=on_result,
                        settings=settings)
    finished = {probe.name: result for probe, result in zip(runnable, results)}
    for probe in validation.plan:
        if probe.name in skipped:
            validation.outcomes.append(
                ProbeOutcome(probe.name, "skipped", skipped="a deployment given by --url cannot be killed"))
        else:
            result = finished[probe.name]
            validation.results.append(result)
            validation.outcomes.append(ProbeOutcome(probe.name, result.verdict, tuple(result.findings)))


def _diagnose(validation: Validation, baseline: Baseline, fail_on: frozenset[str]) -> None:
    """One row per bug class, with why a class could not be judged when the baseline says so."""
    validation.classes = diagnose(validation.outcomes, fail_on)
    degraded = validation.classes["degraded_answer"]
    if not baseline.repeatable and degraded.verdict == "pass":  # the plan could not compare answers
        degraded.verdict, degraded.why = "skipped", (
            "two fault-free requests already answered differently (the model is shown something that differs per "
            "request, such as a proxied service's own ids), so answers under faults were not compared")
    if baseline.side_effects == 0 and validation.classes["duplicate_side_effect"].verdict == "skipped":
        validation.classes["duplicate_side_effect"].why = (
            "the agent made no call to a recording stub; give its outside services with --stub NAME=ENV_VAR, "
            "--proxy NAME=ENV_VAR=URL or --mcp NAME=ENV_VAR[=URL]")


def _too_late(result: ScenarioResult) -> bool:
    """Did every fault of the run land after every request had finished? (A kill "right after
    the last step" can miss the few milliseconds before the output is journaled.)"""
    finished = [row.completed_s for row in result.timeline if row.parent is None]
    applied = [fault.at_s for fault in result.faults if fault.at_s is not None]
    return bool(applied) and bool(finished) and None not in finished and min(applied) > max(finished)  # type: ignore[type-var]


def _stuck_baseline(agent: AgentUnderTest, entry: Entry, why: str, fail_on: frozenset[str]) -> Validation:
    """The verdict when the fault-free run can never finish: stuck, and nothing else judged."""
    validation = Validation(agent.label, str(entry), None, [], fail_on=fail_on)
    validation.classes = diagnose([], fail_on)
    for row in validation.classes.values():
        row.why = "the fault-free baseline never finished, so no run of the plan was made"
    validation.classes["stuck_invocation"] = ClassRow(
        "fail", "baseline", WHY["stuck_invocation"], FIX["stuck_invocation"], why, ["baseline"])
    return validation

"""A scenario is a composition: the agents under test, an LLM script, a workload, a
fault schedule (the nemesis) and the checks. ``run_scenario`` brings up an environment,
plays the schedule on its triggers, waits for the invocations, observes, and judges.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .checks import (
    AllCompleted,
    Check,
    Finding,
    NoDuplicateLLMCalls,
    NoJournalMismatch,
    RunStepsOnce,
    WastedExplainedByFaults,
)
from .classify import ClassifiedCall, classify_observed
from .environment import AgentSpec, Environment
from .errors import HarnessError
from .fake_llm import FakeLLM
from .faults import Fault, FaultRecord
from .observation import Observation
from .results import ScenarioResult, judge
from .triggers import TriggerTimeout
from .stubs import refunds
from .workload import Requests, WorkloadRecord

LLMScript = Callable[[FakeLLM], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    agents: tuple[AgentSpec, ...]
    script: LLMScript
    workload: Requests
    faults: tuple[Fault, ...] = ()
    checks: tuple[Check, ...] = ()
    tags: tuple[str, ...] = ()
    expect_failure: bool = False
    deadline_s: float = 60.0
    trigger_timeout_s: float = 20.0
    inactivity_timeout_s: float | None = None  # Restate's, when the tests' 2 s default does not fit
    seed: int | None = None  # set when the fault schedule was drawn at random
    schedule_for_seed: Callable[[int], tuple[Fault, ...]] | None = None

    def with_seed(self, seed: int) -> "Scenario":
        """The scenario with its random fault schedule drawn from ``seed``."""
        if self.schedule_for_seed is None:
            return self
        return replace(self, seed=seed, faults=self.schedule_for_seed(seed))

    def with_agents(self, *agents: AgentSpec) -> "Scenario":
        """The same scenario against other agents, e.g. a mutant or a user's own."""
        return replace(self, agents=tuple(agents))

    @property
    def agent_label(self) -> str:
        """The entry agent's label, plus any mutant among the others."""
        first, *rest = self.agents
        return "+".join([first.label or first.name] + [a.label for a in rest if a.label.startswith("mutant:")])


def standard_checks(answer: str | None) -> tuple[Check, ...]:
    """What every recovering scenario asserts, before its own expectations."""
    return (AllCompleted(answer), NoDuplicateLLMCalls(), RunStepsOnce(), WastedExplainedByFaults(), NoJournalMismatch())


@dataclass
class RunContext:
    """What faults and triggers can see while a scenario runs."""

    env: Environment
    workload: WorkloadRecord
    started_at: float
    faults: list[FaultRecord] = field(default_factory=list)
    max_retry_count: dict[str, int] = field(default_factory=dict)
    statuses_seen: dict[str, set[str]] = field(default_factory=dict)
    failures_seen: dict[str, set[str]] = field(default_factory=dict)


def run_scenario(scenario: Scenario, run_dir: Path, *, always_replay: bool = False) -> ScenarioResult:
    """Run one scenario in its own environment. Never raises for a scenario's own failure:
    errors become an ``unknown`` verdict with the message and log tails.

    ``always_replay`` sets Restate's inactivity timeout to 0, so every await suspends and
    every resumption replays the journal: non-determinism shows up as a journal mismatch."""
    scenario_dir = run_dir / scenario.name
    started = time.time()
    errors: list[str] = []
    obs: Observation | None = None
    log_tails: dict[str, str] = {}
    try:
        with Environment(
            scenario.agents,
            scenario_dir,
            inactivity_timeout_s=scenario.inactivity_timeout_s,
            always_replay=always_replay,
        ) as env:
            ready_s = time.time() - started
            scenario.script(env.llm)
            ctx = RunContext(env, WorkloadRecord(), time.time())
            sender = _Sender(scenario.workload, ctx)
            try:
                sender.start()
                _play_faults(scenario, ctx)
                sender.join()
                _wait_for_invocations(ctx, scenario.deadline_s)
            except (TriggerTimeout, HarnessError) as exc:
                errors.append(str(exc))
            finally:
                env.llm.release_all()
                _heal_everything(scenario, ctx, errors)
                threading.Thread.join(sender, 30)  # after an error: let the sender finish quietly
            obs = _observe(ctx)
            log_tails = {name: p.log_tail(40) for name, p in env.processes.items()}
    except HarnessError as exc:
        errors.append(str(exc))
    except Exception as exc:  # a harness bug: keep the other scenarios' results
        errors.append(f"harness error: {exc!r}\n{traceback.format_exc(limit=5)}")
    result = judge(scenario, obs, classify_observation(obs), errors)
    result.always_replay = always_replay
    result.seed, result.schedule = scenario.seed, [_describe(f) for f in scenario.faults]
    if result.stuck:
        scenario_dir.mkdir(parents=True, exist_ok=True)
        (scenario_dir / "stuck.json").write_text(json.dumps(result.stuck, indent=2, default=str))
    result.duration_s = round(time.time() - started, 3)
    result.log_tails = log_tails if result.verdict != "pass" else {}
    if obs is not None:
        result.environment_ready_s = round(ready_s, 3)
    return result


class _Sender(threading.Thread):
    """Sends the workload while the nemesis plays faults; keeps the first error."""

    def __init__(self, workload: Requests, ctx: RunContext) -> None:
        super().__init__(name="workload", daemon=True)
        self.workload, self.ctx, self.error = workload, ctx, None  # type: ignore[var-annotated]

    def run(self) -> None:
        try:
            self.workload.send(self.ctx.env.ingress, into=self.ctx.workload.requests)
        except Exception as exc:  # reported by join()
            self.error = exc

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if isinstance(self.error, HarnessError):
            raise self.error
        if self.error is not None:
            raise HarnessError(f"sending the workload failed: {self.error!r}")


def classify_observation(obs: Observation | None) -> list[ClassifiedCall]:
    """Every LLM call and side effect of the run, classified."""
    return classify_observed(obs) if obs is not None else []


def _describe(fault: Fault) -> str:
    heal = fault.heal.describe() if fault.heal is not None else "the end of the run"
    return f"{fault.kind} {fault.target} when {fault.when.describe()}, healed {heal}"


def _play_faults(scenario: Scenario, ctx: RunContext) -> None:
    for fault in scenario.faults:
        fault.when.wait(ctx, scenario.trigger_timeout_s)
        record = FaultRecord(fault.kind, fault.target, time.time())
        ctx.faults.append(record)
        record.detail = fault.start(ctx)
        # A held LLM answer is released once the fault is in place, so it meets the fault:
        # it goes to a dead process, a paused one, or an agent that cannot journal it.
        ctx.env.llm.release_all()
        if fault.heal is not None:
            fault.heal.wait(ctx, scenario.trigger_timeout_s)
            # Healed when the healing action begins: a restart's start-up time is part of recovery.
            record.healed_at = time.time()
            fault.stop(ctx)


def _heal_everything(scenario: Scenario, ctx: RunContext, errors: list[str]) -> None:
    """Heal faults left open (by design, or because a trigger timed out) before observing."""
    for fault, record in zip(scenario.faults, ctx.faults):
        if record.healed_at is None:
            record.healed_at = time.time()
            try:
                fault.stop(ctx)
            except HarnessError as exc:
                errors.append(f"healing {fault.kind} on {fault.target} failed: {exc}")


def _wait_for_invocations(ctx: RunContext, deadline_s: float) -> None:
    ids = ctx.workload.invocation_ids
    deadline = time.monotonic() + deadline_s
    while True:
        rows = ctx.env.admin.invocations(ids)
        # Callees retry on their own (a remote agent's fault): sample their retries too.
        for row in rows + ctx.env.admin.callees(ids):
            count = int(row.get("retry_count") or 0)
            ctx.max_retry_count[row["id"]] = max(ctx.max_retry_count.get(row["id"], 0), count)
            ctx.statuses_seen.setdefault(row["id"], set()).add(row.get("status", "?"))
            if failure := row.get("last_failure"):
                code = row.get("last_failure_error_code", "")
                ctx.failures_seen.setdefault(row["id"], set()).add(f"{code}: {failure[:300]}")
        if len(rows) == len(ids) and all(r.get("status") == "completed" for r in rows):
            return
        if time.monotonic() > deadline:
            stuck = [f"{r['id']} ({r.get('status')}, {r.get('last_failure', '')[:120]})" for r in rows if r.get("status") != "completed"]
            raise HarnessError(f"invocations not done after {deadline_s:.0f}s: {', '.join(stuck)}")
        time.sleep(0.1)


def _observe(ctx: RunContext) -> Observation:
    roots = ctx.workload.invocation_ids
    env = ctx.env
    rows = env.admin.invocations(roots)
    callees = env.admin.callees(roots)
    while callees:  # call trees of any depth
        rows += callees
        callees = env.admin.callees([r["id"] for r in callees])
    ids = [r["id"] for r in rows]
    return Observation(
        requests=ctx.workload.requests,
        calls=list(env.llm.calls),
        invocation_rows=rows,
        journal_rows=env.admin.journal(ids),
        outputs=env.admin.outputs(ids),  # one query for the whole batch, however large
        faults=ctx.faults,
        started_at=ctx.started_at,
        max_retry_count=dict(ctx.max_retry_count),
        statuses_seen={k: sorted(v) for k, v in ctx.statuses_seen.items()},
        failures_seen={k: sorted(v) for k, v in ctx.failures_seen.items()},
        side_effect_calls=refunds.ledger(f"http://127.0.0.1:{env.refunds_port}") if env.refunds_port else [],
    )


__all__ = ["Scenario", "RunContext", "run_scenario", "standard_checks", "Finding"]

"""A scenario is a composition: the agents under test, an LLM script, a workload, a
fault schedule (the nemesis) and the checks. ``run_scenario`` brings up an environment,
plays the schedule on its triggers, waits for the invocations, observes, and judges.
"""

from __future__ import annotations

import json
import re
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.checker.check import Check
from harness.checker.checks import (
    AllCompleted,
    NoDuplicateLLMCalls,
    NoJournalMismatch,
    StepsOnce,
    WastedExplainedByFaults,
)
from harness.checker.judge import RunInfo, judge
from harness.context import Progress
from harness.env.cleanup import Cleanup
from harness.env.environment import AgentSpec, Environment
from harness.env.process import ManagedProcess, log_tail
from harness.errors import HarnessError
from harness.fake_llm import FakeLLM
from harness.nemesis.faults import PARTITION_KINDS, Fault, describe
from harness.nemesis.schedule import DrawnSchedule
from harness.nemesis.strategies import Strategy, with_schedule
from harness.nemesis.triggers import AtStart
from harness.results.reproduce import run_command
from harness.results.schema import ScenarioResult
from harness.runner.live import LiveRun
from harness.runner.pool import EnvironmentPool, Lease, Shape
from harness.settings import Settings
from harness.timing import Phases
from harness.workload import Requests

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
    llm_timeout_s: float | None = None  # the agents' LLM client timeout, when the 2 s default does not fit
    always_replay: bool = False  # Restate's inactivity timeout 0: every await suspends, every resumption replays
    seed: int | None = None  # set when the fault schedule was drawn at random
    schedule_for_seed: Callable[[int], tuple[Fault, ...]] | None = None
    # A strategy drawing the fault schedule and request count (harness.nemesis.schedule):
    # seeded like schedule_for_seed, and also replayable from a choice stream, so shrinkable.
    schedule_strategy: Strategy[DrawnSchedule] | None = None
    choices: tuple[int, ...] | None = None  # the stream the schedule was replayed from (--schedule)

    def with_seed(self, seed: int) -> "Scenario":
        """The scenario with its random fault schedule drawn from ``seed``."""
        if self.schedule_strategy is not None:
            return self._with_drawn(self.schedule_strategy.generate(seed).value, seed=seed, choices=None)
        if self.schedule_for_seed is None:
            return self
        return replace(self, seed=seed, faults=self.schedule_for_seed(seed))

    def with_choices(self, choices: Sequence[int]) -> "Scenario":
        """The scenario with its ``schedule_strategy`` replayed from a choice stream: how a
        shrunk schedule is run again (``--schedule 3,0,17``). Any stream gives a valid schedule."""
        if self.schedule_strategy is None:
            return self
        example = self.schedule_strategy.replay(choices)
        return self._with_drawn(example.value, seed=None, choices=example.key)

    def _with_drawn(self, drawn: DrawnSchedule, *, seed: int | None, choices: tuple[int, ...] | None) -> "Scenario":
        # Fewer requests are sent at the same rate: the workload ends sooner.
        spread_s = self.workload.spread_s * drawn.requests / self.workload.n if self.workload.n else self.workload.spread_s
        workload = replace(self.workload, n=drawn.requests, spread_s=round(spread_s, 3))
        return replace(self, seed=seed, choices=choices, faults=drawn.faults, workload=workload)

    def with_agents(self, *agents: AgentSpec) -> "Scenario":
        """The same scenario against other agents, e.g. a mutant or a user's own."""
        return replace(self, agents=tuple(agents))

    @property
    def info(self) -> dict[str, Any]:
        """How results name and describe this scenario."""
        return {
            "name": self.name,
            "agent": self.agent_label,
            "description": self.description,
            "tags": self.tags,
            "expect_failure": self.expect_failure,
        }

    def reproduce_command(self, *, always_replay: bool = False, scenarios_file: str | None = None) -> str:
        """The CLI command that runs this scenario again, against the same agent;
        ``scenarios_file``: the user's file it came from (``--scenarios``)."""
        command = run_command(self.name, self.agent_label, seed=self.seed, always_replay=always_replay,
                              scenarios_file=scenarios_file)
        return command if self.choices is None else with_schedule(command, self.choices)

    @property
    def folder(self) -> str:
        """Its folder in a batch: unique per (scenario, agent), as the same scenario may run
        against several agents in one batch."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{self.name}--{self.agent_label}")

    @property
    def fault_kinds(self) -> list[str]:
        return sorted({f.kind for f in self.faults})

    @property
    def partitions(self) -> bool:
        """Does it cut the network with the kernel's packet filter (a partition fault, or a
        random schedule tagged ``partition`` that may draw one)?"""
        return "partition" in self.tags or any(kind in PARTITION_KINDS for kind in self.fault_kinds)

    @property
    def agent_label(self) -> str:
        """The entry agent's label, plus any mutant among the others."""
        first, *rest = self.agents
        return "+".join([first.label or first.name] + [a.label for a in rest if a.label.startswith("mutant:")])


@contextmanager
def _environment(
    scenario: Scenario, scenario_dir: Path, always_replay: bool, settings: Settings, cleanup: Cleanup | None,
    pool: EnvironmentPool | None,
) -> Iterator[Lease]:
    shape = Shape(scenario.agents, scenario.inactivity_timeout_s, always_replay, scenario.llm_timeout_s)
    if pool is not None:
        with pool.lease(shape, scenario_dir) as lease:
            yield lease
        return
    with Environment(shape.agents, scenario_dir, inactivity_timeout_s=shape.inactivity_timeout_s,
                     always_replay=always_replay, settings=settings, cleanup=cleanup, **shape.llm_timeout) as env:
        yield Lease(env, reused=False)


def _log_tails(logs: Path, processes: Mapping[str, ManagedProcess], lines: int = 40) -> dict[str, str]:
    """The end of each process's log, as this scenario wrote it."""
    return {name: log_tail(logs / process.log_path.name, lines) for name, process in processes.items()}


def standard_checks(answer: str | None) -> tuple[Check, ...]:
    """What every recovering scenario asserts, before its own expectations."""
    return (AllCompleted(answer), NoDuplicateLLMCalls(), StepsOnce(), WastedExplainedByFaults(), NoJournalMismatch())


def run_scenario(
    scenario: Scenario,
    batch_dir: Path,
    *,
    always_replay: bool = False,
    on_progress: Progress | None = None,
    settings: Settings | None = None,
    cleanup: Cleanup | None = None,
    pool: EnvironmentPool | None = None,
) -> ScenarioResult:
    """Run one scenario in its own environment. Never raises for a scenario's own failure:
    errors become an ``unknown`` verdict with the message and log tails.

    ``always_replay`` (or the scenario's own ``always_replay``) sets Restate's inactivity
    timeout to 0, so every await suspends and every resumption replays the journal:
    non-determinism shows up as a journal mismatch.

    ``settings`` and ``cleanup`` go to the ``Environment`` (None: ``Settings()``, and a
    ``Cleanup`` the environment owns). With a ``pool``, the scenario runs in an environment
    a previous one left clean, when there is one (see ``harness.runner.pool``)."""
    always_replay = always_replay or scenario.always_replay
    scenario_dir = batch_dir / scenario.folder
    scenario_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    result: ScenarioResult | None = None
    errors: list[str] = []
    log_tails: dict[str, str] = {}
    phases = Phases()
    try:
        with _environment(scenario, scenario_dir, always_replay, settings or Settings(), cleanup, pool) as lease:
            result = _play(scenario, lease, scenario_dir, time.time() - started, on_progress, phases)
            leaving = time.perf_counter()
        phases.add("teardown" if pool is None else "recycle or teardown", time.perf_counter() - leaving)
        log_tails = _log_tails(scenario_dir / "logs", lease.environment.processes)
    except HarnessError as exc:
        errors.append(str(exc))
    except Exception as exc:  # a harness bug: keep the other scenarios' results
        errors.append(f"harness error: {exc!r}\n{traceback.format_exc(limit=5)}")
    if result is None:  # the environment never came up, or broke
        result = ScenarioResult.from_judgement(judge(RunInfo(checks=scenario.checks, **scenario.info), None, errors))
    else:
        result.errors += errors
    result.always_replay = always_replay
    result.seed, result.schedule = scenario.seed, [describe(f) for f in scenario.faults]
    result.reproduce = scenario.reproduce_command(always_replay=always_replay)
    if result.stuck:
        scenario_dir.mkdir(parents=True, exist_ok=True)
        (scenario_dir / "stuck.json").write_text(json.dumps(result.stuck, indent=2, default=str))
    result.duration_s = round(time.time() - started, 3)
    result.phases_s = phases.seconds
    result.log_tails = log_tails if result.verdict != "pass" else {}
    return result


def _play(
    scenario: Scenario, lease: Lease, scenario_dir: Path, ready_s: float, on_progress: Progress | None, phases: Phases,
) -> ScenarioResult:
    """The scenario's run in a ready environment: script the LLM, apply the faults that act
    from the start, send, inject the others on their triggers, and judge. Its phases are
    added to ``phases``; the history is saved beside the result."""
    env = lease.environment
    scenario.script(env.llm)
    run = LiveRun(env, trigger_timeout_s=scenario.trigger_timeout_s, on_progress=on_progress)
    at_start = [f for f in scenario.faults if isinstance(f.when, AtStart)]
    run.apply_now(*at_start)
    run.send(scenario.workload)
    run.inject(*[f for f in scenario.faults if f not in at_start])
    result = run.check(*scenario.checks, deadline_s=scenario.deadline_s, **scenario.info)
    result.environment_ready_s = round(ready_s, 3)
    result.environment_reused = lease.reused
    if lease.reused:
        phases.add("environment (reused)", ready_s)
    else:
        phases.update(env.phases)
    phases.update(run.phases)
    if run.history is not None:  # the record the verdict came from, to judge again
        (scenario_dir / "history.json").write_text(json.dumps(run.history.to_json(), default=str))
    return result


__all__ = ["Scenario", "run_scenario", "standard_checks"]

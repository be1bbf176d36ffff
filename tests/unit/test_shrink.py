"""The shrinker on pure predicates (a fake "run"), and on scenarios with a fake runner:
it finds the minimal failing schedule, respects its budget, and never returns an example
it did not see failing."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from pathlib import Path

import pytest

from harness.checker.judgement import CallRow, FindingRow
from harness.nemesis.faults import Kill, Terminate, describe
from harness.nemesis.schedule import DrawnSchedule, drawn_schedules, schedules
from harness.nemesis.shrink import shrink, sort_key
from harness.nemesis.strategies import Example, decode_choices, integers, lists, with_schedule
from harness.nemesis.triggers import After, At
from harness.results.schema import ScenarioResult
from harness.runner.shrinking import FindingToKeep, repeat_kind, shrink_scenario
from scenarios.random_schedules import random_faults

PROCESSES = ["router", "restate"]
LINKS = ["restate->router", "router->llm"]
SCHEDULE = schedules(processes=PROCESSES, links=LINKS, faults=6)
PLAN = drawn_schedules(SCHEDULE, requests=20)


def kills_restate(faults) -> bool:  # type: ignore[no-untyped-def]
    return any(isinstance(f, Kill) and f.target == "restate" for f in faults)


def seeds_where(predicate, strategy=SCHEDULE, count: int = 5):  # type: ignore[no-untyped-def]
    return list(itertools.islice((s for s in range(10_000) if predicate(strategy.example(s))), count))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_schedule_that_fails_iff_it_kills_restate_shrinks_to_exactly_that_kill() -> None:
    seeds = seeds_where(lambda faults: kills_restate(faults) and len(faults) == 6)
    assert seeds
    for seed in seeds:
        example = SCHEDULE.generate(seed)
        shrunk = shrink(SCHEDULE, example.choices, lambda e: kills_restate(e.value), budget_s=60)
        assert shrunk.complete
        # exactly one fault, the kill of restate, at its simplest: earliest start, shortest window
        assert shrunk.example.value == (Kill("restate", when=At(0.1), until=After(0.2)),)
        assert shrunk.improved >= 1 and shrunk.attempts < 120
        assert SCHEDULE.replay(decode_choices(shrunk.example.encoded)).value == shrunk.example.value


def test_deleting_faults_takes_a_few_runs_when_one_of_six_is_the_culprit() -> None:
    # Expensive runs: deletion comes first and halves blocks, so the culprit is alone fast.
    for seed in seeds_where(lambda faults: sum(map(kills_restate, ([f] for f in faults))) == 1, count=10):
        runs: list[int] = []

        def fails(e: Example) -> bool:  # type: ignore[type-arg]
            runs.append(len(e.value))
            return kills_restate(e.value)

        shrink(SCHEDULE, SCHEDULE.generate(seed).choices, fails, budget_s=60)
        first_single = next(i for i, n in enumerate(runs) if n == 1) + 1
        assert first_single <= 7, runs


def test_the_request_count_and_windows_are_lowered_while_the_finding_holds() -> None:
    # fails with 5 or more requests and a kill of the router whose window is at least 0.5 s
    def fails(e: Example[DrawnSchedule]) -> bool:
        return e.value.requests >= 5 and any(
            isinstance(f, (Kill, Terminate)) and f.target == "router" and f.until.seconds >= 0.5 for f in e.value.faults
        )

    seed = next(iter(seeds_where(lambda p: fails(Example(p, (), ())), strategy=PLAN, count=1)))
    shrunk = shrink(PLAN, PLAN.generate(seed).choices, fails, budget_s=60)
    assert shrunk.example.value == DrawnSchedule((Kill("router", when=At(0.1), until=After(0.5)),), 5)


def test_the_budget_stops_the_search_and_no_run_starts_past_it() -> None:
    clock = FakeClock()
    starts: list[float] = []

    def slow(e: Example) -> bool:  # type: ignore[type-arg]
        starts.append(clock.now)
        clock.now += 10.0  # every run takes 10 s
        return kills_restate(e.value)

    seed = seeds_where(lambda faults: kills_restate(faults) and len(faults) == 6, count=1)[0]
    shrunk = shrink(SCHEDULE, SCHEDULE.generate(seed).choices, slow, budget_s=45, estimate_s=10, clock=clock)
    assert not shrunk.complete
    assert shrunk.attempts == len(starts) == 4  # a 5th would end at 50 s > 45 s
    assert clock.now <= 45 and shrunk.elapsed_s == clock.now
    # no budget: no run at all, the original is the answer
    nothing = shrink(SCHEDULE, SCHEDULE.generate(seed).choices, slow, budget_s=0)
    assert nothing.attempts == 0 and nothing.example.value == SCHEDULE.example(seed)


def test_it_never_returns_an_example_it_did_not_see_failing() -> None:
    # A flaky predicate: whatever it answers, the result is the original or one seen failing.
    rng = random.Random(5)
    for seed in range(40):
        failing: set[tuple[int, ...]] = set()

        def flaky(e: Example) -> bool:  # type: ignore[type-arg]
            failed = rng.random() < 0.4
            if failed:
                failing.add(e.key)
            return failed

        original = PLAN.generate(seed)
        shrunk = shrink(PLAN, original.choices, flaky, budget_s=60, max_attempts=rng.randrange(1, 60))
        assert shrunk.example.key == original.key or shrunk.example.key in failing
        assert sort_key(shrunk.example.choices) <= sort_key(original.choices)


def test_each_candidate_is_run_once_and_always_smaller() -> None:
    seen: list[tuple[int, ...]] = []
    original = PLAN.generate(3)
    best = [original.key]

    def fails(e: Example[DrawnSchedule]) -> bool:
        seen.append(e.key)
        assert sort_key(e.key) < sort_key(best[-1])
        failed = len(e.value.faults) >= 2
        if failed:
            best.append(e.key)
        return failed

    shrunk = shrink(PLAN, original.choices, fails, budget_s=60)
    assert len(seen) == len(set(seen))
    assert len(shrunk.example.value.faults) == 2 and shrunk.example.value.requests == 1


def test_plain_integers_shrink_by_bisection() -> None:
    calls = []
    shrunk = shrink(integers(0, 1000), [900], lambda e: calls.append(e.value) or e.value >= 613, budget_s=10)
    assert shrunk.example.value == 613 and len(calls) <= 12


def test_lists_shrink_to_the_needed_elements() -> None:
    strategy = lists(integers(0, 50), max_size=10)
    shrunk = shrink(strategy, [1, 40, 1, 3, 1, 45, 1, 7, 1, 30], lambda e: sum(x >= 20 for x in e.value) >= 2, budget_s=10)
    assert shrunk.example.value == [20, 20]


# --- scenarios: the finding that must persist ----------------------------------------------


def result(*failed: str, duplicates: tuple[str, ...] = (), duration_s: float = 5.0) -> ScenarioResult:
    checks = ["all invocations completed", "no duplicate LLM calls", "steps once and completed"]
    r = ScenarioResult("random-faults-local", "mutant", "fail" if failed else "pass")
    classes = {"no duplicate LLM calls": "duplicate_llm_call"}
    r.findings = [FindingRow(check=c, ok=c not in failed, message="m", bug_class=classes.get(c)) for c in checks]
    r.calls = [CallRow(id=i, class_="duplicate", reason=reason) for i, reason in enumerate(duplicates)]
    r.duration_s = duration_s
    return r


OUTSIDE = "call #1 had already answered, and the journal recorded Run 'ask' after that answer, before this call"
JOURNALED = "Run 'route' had already journaled call #1's answer before this call"


def test_the_finding_to_keep_is_the_duplicate_finding_with_its_bug_class() -> None:
    finding = FindingToKeep.of(result("all invocations completed", "no duplicate LLM calls", duplicates=(OUTSIDE,)))
    assert finding == FindingToKeep("no duplicate LLM calls", "duplicate_llm_call", repeat_kind(OUTSIDE), "m")
    assert finding.found_in(result("no duplicate LLM calls", duplicates=(JOURNALED, OUTSIDE)))
    assert not finding.found_in(result("no duplicate LLM calls", duplicates=(JOURNALED,)))  # repeated another way
    assert not finding.found_in(result("all invocations completed"))  # another check
    assert not finding.found_in(result())
    plain = FindingToKeep.of(result("steps once and completed"))
    assert plain == FindingToKeep("steps once and completed", None, None, "m")
    assert plain.found_in(result("all invocations completed", "steps once and completed"))
    assert FindingToKeep.of(result()) is None


def test_with_schedule_replaces_the_seed() -> None:
    assert with_schedule("python -m harness run x --agent 'a b' --seed 7 --always-replay", (1, 0, 2, 0)) == (
        "python -m harness run x --agent 'a b' --always-replay --schedule 1,0,2"
    )
    assert with_schedule("python -m harness soak --router local --seed=3 --schedule 9", (4,)).endswith("local --schedule 4")


def test_shrink_scenario_runs_real_scenarios_through_a_fake_runner(tmp_path: Path) -> None:
    scenario = random_faults("local", n=8, faults=6)
    seed = next(s for s in range(1000) if kills_restate(scenario.with_seed(s).faults))
    scenario = scenario.with_seed(seed)
    ran: list[str] = []

    def run(candidate, folder: Path) -> ScenarioResult:  # type: ignore[no-untyped-def]
        folder.mkdir(parents=True)
        (folder / "log").write_text("x")
        ran.append(folder.name)
        # the fake mutant: duplicates whenever restate is killed and 3 or more requests are sent
        bad = kills_restate(candidate.faults) and candidate.workload.n >= 3
        return result(*(["no duplicate LLM calls"] if bad else []), duplicates=(OUTSIDE,) if bad else ())

    original = run(scenario, tmp_path / "original")
    attempts: list[tuple[int, bool]] = []
    shrunk = shrink_scenario(
        scenario, original, run, tmp_path / "shrink", budget_s=60, on_attempt=lambda n, s, failed: attempts.append((n, failed))
    )
    assert shrunk is not None
    assert [describe(f) for f in shrunk.scenario.faults] == ["kill restate when at 0.10s, undone after 0.2s"]
    assert shrunk.scenario.workload.n == 3
    # only the minimal run's folder is kept
    assert sorted(p.name for p in (tmp_path / "shrink").iterdir()) == [shrunk.folder.name]
    # its command replays exactly that scenario
    command = shrunk.scenario.reproduce_command()
    assert "--seed" not in command and f"--schedule {shrunk.choices}" in command
    again = scenario.with_choices(decode_choices(shrunk.choices))
    assert again.faults == shrunk.scenario.faults and again.workload.n == 3
    data = shrunk.to_json(command)
    assert data["schedule"] == ["kill restate when at 0.10s, undone after 0.2s"] and data["requests"] == 3
    assert data["original"] == {"faults": 6, "requests": 8}
    assert data["finding"]["check"] == "no duplicate LLM calls" and data["finding"]["how"] == repeat_kind(OUTSIDE)
    assert data["attempts"] + data["confirm_runs"] == len(attempts) == len(ran) - 1 and data["complete"]
    assert data["confirm_runs"] == 1 and data["confirmed"] is True  # the minimal one failed again


def test_a_minimal_schedule_that_does_not_fail_again_steps_back_to_one_that_does(tmp_path: Path) -> None:
    # A timing edge: the smallest schedule fails once, then passes when re-run.
    scenario = random_faults("local", n=8, faults=6)
    seed = next(s for s in range(1000) if kills_restate(scenario.with_seed(s).faults))
    scenario = scenario.with_seed(seed)
    seen: dict[tuple[str, ...], int] = {}

    def run(candidate, folder: Path) -> ScenarioResult:  # type: ignore[no-untyped-def]
        folder.mkdir(parents=True)
        key = tuple(describe(f) for f in candidate.faults) + (str(candidate.workload.n),)
        seen[key] = seen.get(key, 0) + 1
        flaky_edge = candidate.workload.n == 3 and seen[key] > 1  # passes when run again
        bad = kills_restate(candidate.faults) and candidate.workload.n >= 3 and not flaky_edge
        return result(*(["no duplicate LLM calls"] if bad else []), duplicates=(OUTSIDE,) if bad else ())

    shrunk = shrink_scenario(scenario, run(scenario, tmp_path / "o"), run, tmp_path / "shrink", budget_s=60)
    assert shrunk is not None and shrunk.confirmed is True and shrunk.confirm_runs == 2
    assert shrunk.scenario.workload.n > 3  # the one before the edge, which failed twice
    assert shrunk.shrunk.example.value.requests == 3  # what the search found
    assert shrunk.folder is not None and shrunk.folder.name == "confirm-2"
    assert sorted(p.name for p in (tmp_path / "shrink").iterdir()) == ["confirm-2"]
    assert shrunk.to_json("x")["requests"] == shrunk.scenario.workload.n


def test_nothing_to_shrink(tmp_path: Path) -> None:
    scenario = random_faults("local", n=8, faults=6)
    failing = result("no duplicate LLM calls", duplicates=(OUTSIDE,))
    never = lambda s, f: pytest.fail("no run expected")  # noqa: E731
    assert shrink_scenario(scenario, result(), never, tmp_path, budget_s=60) is None  # nothing failed
    assert shrink_scenario(scenario, failing, never, tmp_path, budget_s=0) is None  # disabled
    assert shrink_scenario(replace(scenario, schedule_strategy=None), failing, never, tmp_path, budget_s=60) is None  # not random


def test_the_command_line_takes_a_shrink_budget_and_a_schedule() -> None:
    from harness.cli import parser

    args = parser().parse_args(["run", "random-faults-local"])
    assert args.shrink_budget == 180 and args.schedule is None
    args = parser().parse_args(["run", "x", "--schedule", "5,1,0,0,0,8", "--shrink-budget", "0"])
    assert args.schedule == (5, 1, 0, 0, 0, 8) and args.shrink_budget == 0
    soak = parser().parse_args(["soak", "--schedule", "3", "--shrink-budget", "30"])
    assert soak.schedule == (3,) and soak.shrink_budget == 30
    for bad in (["run", "--schedule", "1,x"], ["run", "--shrink-budget", "-1"], ["run", "--seed", "1", "--schedule", "1"]):
        with pytest.raises(SystemExit):
            parser().parse_args(bad)


def test_runs_that_cannot_be_judged_stop_the_search_and_say_why(tmp_path: Path) -> None:
    scenario = random_faults("local", n=8, faults=6)
    seed = next(s for s in range(1000) if kills_restate(scenario.with_seed(s).faults))
    scenario = scenario.with_seed(seed)
    calls = 0

    def run(candidate, folder: Path) -> ScenarioResult:  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls <= 2:  # the original and one smaller failing run, then the environment breaks
            return result("no duplicate LLM calls", duplicates=(OUTSIDE,))
        broken = ScenarioResult(candidate.name, "mutant", "unknown", errors=["restate-server did not start\nlog tail"])
        return broken

    shrunk = shrink_scenario(scenario, run(scenario, tmp_path / "o"), run, tmp_path / "shrink", budget_s=600)
    assert shrunk is not None and shrunk.shrunk.attempts == 4  # one failing, then three unjudged
    assert shrunk.stopped == "3 runs in a row could not be judged (see errors)"
    assert shrunk.errors == ["attempt-002: restate-server did not start", "attempt-003: restate-server did not start",
                             "attempt-004: restate-server did not start"]
    assert shrunk.verdicts == {"fail": 1, "unknown": 3}
    assert shrunk.confirmed is None and shrunk.confirm_runs == 0  # no confirming on a broken environment
    assert shrunk.example.key != scenario.with_seed(seed).schedule_strategy.generate(seed).key  # the smaller one found is kept
    data = shrunk.to_json("x")
    assert data["stopped"] and data["errors"] and data["verdicts"] == {"fail": 1, "unknown": 3}


def test_a_predicate_may_stop_the_search() -> None:
    from harness.nemesis.shrink import StopShrinking

    def stop(e: Example) -> bool:  # type: ignore[type-arg]
        raise StopShrinking

    shrunk = shrink(PLAN, PLAN.generate(1).choices, stop, budget_s=60)
    assert shrunk.attempts == 1 and not shrunk.complete and shrunk.example.key == PLAN.generate(1).key

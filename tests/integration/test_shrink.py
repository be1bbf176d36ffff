"""Shrinking end to end, through the command line: a mutant that only fails when its
router process dies (``agents/mutants/cached_routing.py``) runs under a seeded schedule of
six faults, one of which kills the router; the harness shrinks it to at most two faults
that still give the same finding, saves and prints the minimal schedule with its command,
and that command runs exactly that schedule again and fails the same way."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from harness.env.binaries import PROJECT_ROOT

# Six faults over 3 s, one of them (the third drawn) a kill of the router at 1.45 s; the
# others (a pause and a terminate of restate-server, resets on the LLM link, a 5xx and a
# 429 from the LLM) are all retried by Restate into the same router process, whose cache
# hides the bug. The specialist answers in 1 s and a request leaves every 0.5 s, so a
# kill of the router at any time meets an answered routing decision in flight.
SEED = 17
SCENARIO_FILE = """
from dataclasses import replace

from harness.fake_llm import tool_call
from harness.nemesis.schedule import drawn_schedules, schedules
from scenarios.agents import CACHED_ROUTING_MUTANT
from scenarios.llm_scripts import BILLING_ANSWER
from scenarios.random_schedules import random_faults


def script(llm):
    llm.on(has_tools=True).reply(tool_call("BillingAgent", {}))
    llm.on(system_contains="billing specialist").delay(1.0).reply(BILLING_ANSWER)


PLAN = drawn_schedules(
    schedules(processes=["router", "restate"], links=["restate->router", "router->llm"], faults=6,
              horizon_s=3.0, max_window_s=0.6),
    requests=6,
)
SCENARIOS = [
    replace(random_faults("local", n=6, faults=6, spread_s=3.0), name="shrink-cached-routing", script=script,
            schedule_strategy=PLAN, schedule_for_seed=lambda seed: PLAN.example(seed).faults)
    .with_agents(CACHED_ROUTING_MUTANT)
    .with_seed(0)
]
"""
BUDGET_S = 60


def harness(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200"},
    )


def only_scenario(out: Path) -> dict:  # type: ignore[type-arg]
    (scenario,) = json.loads((out / "latest" / "results.json").read_text())["scenarios"]
    return scenario


def failed_checks(scenario: dict) -> set[str]:  # type: ignore[type-arg]
    return {f["check"] for f in scenario["findings"] if not f["ok"]}


def test_a_six_fault_schedule_shrinks_to_the_kill_that_exposes_the_mutant(tmp_path: Path) -> None:
    scenarios = tmp_path / "shrink_scenarios.py"
    scenarios.write_text(SCENARIO_FILE)

    done = harness("run", "--scenarios", str(scenarios), "--seed", str(SEED), "--shrink-budget", str(BUDGET_S),
                   "--out", str(tmp_path / "out"))
    assert done.returncode == 1, done.stdout + done.stderr
    original = only_scenario(tmp_path / "out")
    assert original["verdict"] == "fail" and "no duplicate LLM calls" in failed_checks(original), done.stdout
    assert len(original["schedule"]) == 6 and sum(line.startswith("kill router") for line in original["schedule"]) == 1

    shrunk = original["shrunk"]
    assert shrunk is not None, done.stdout
    assert 1 <= len(shrunk["schedule"]) <= 2, shrunk
    assert any(line.startswith("kill router") for line in shrunk["schedule"]), shrunk  # the culprit is kept
    assert shrunk["finding"]["check"] == "no duplicate LLM calls"
    assert (shrunk["finding"]["bug_class"], shrunk["finding"]["how"]) == (
        "duplicate_llm_call", "repeated outside ctx.run after its answer drove progress")
    assert shrunk["original"] == {"faults": 6, "requests": 6} and 1 <= shrunk["requests"] <= 6
    assert shrunk["time_s"] <= BUDGET_S + 20, shrunk  # the search, and one or two confirming runs
    assert shrunk["confirmed"] is True, shrunk
    # printed, next to the original
    assert "shrunk from 6 faults and 6 requests" in done.stdout, done.stdout
    assert all(line in done.stdout for line in shrunk["schedule"]) and shrunk["reproduce"] in done.stdout.replace("\n", "")
    # only the minimal run's folder is kept
    assert Path(shrunk["folder"]).is_dir() and len(list(Path(shrunk["folder"]).parent.iterdir())) == 1

    # One command runs exactly that schedule again, and it fails the same way.
    argv = shlex.split(shrunk["reproduce"])
    assert argv[:3] == ["python", "-m", "harness"] and "--seed" not in argv and argv[argv.index("--schedule") + 1] == shrunk["choices"]
    again = harness(*argv[3:], "--out", str(tmp_path / "again"))
    replayed = only_scenario(tmp_path / "again")
    assert replayed["schedule"] == shrunk["schedule"]
    assert replayed["invocations"]["sent"] == shrunk["requests"]
    assert replayed["reproduce"] == shrunk["reproduce"].removesuffix(" --shrink-budget 0")
    assert replayed["verdict"] == "fail" and "no duplicate LLM calls" in failed_checks(replayed), again.stdout
    assert replayed["shrunk"] is None  # --shrink-budget 0
    assert again.returncode == 1

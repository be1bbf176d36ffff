"""The one builder of reproduce commands, per case: a catalogue scenario, a seed and
always-replay, a scenario from a user's file, a soak, a pytest test, and results that
predate the recorded command; and that the CLI records them so."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from harness import cli
from harness.results.reproduce import (
    nodeid_command,
    reproduce_command,
    run_command,
    soak_command,
)
from harness.results.schema import ScenarioResult
from harness.runner.scenario import Scenario
from scenarios import local_router


def test_a_catalogue_scenario() -> None:
    assert run_command("baseline", "local-router") == "python -m harness run baseline --agent local-router"
    assert local_router.BASELINE.reproduce_command() == "python -m harness run baseline --agent local-router"


def test_a_seed_and_always_replay() -> None:
    assert run_command("random-faults-local", "local-router", seed=42, always_replay=True) == (
        "python -m harness run random-faults-local --agent local-router --seed 42 --always-replay")
    assert run_command("x", "a", seed=0) == "python -m harness run x --agent a --seed 0"  # seed 0 is a seed


def test_a_scenario_from_a_users_file_names_it_by_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my scenarios.py").write_text("")
    command = run_command("mine", "my-router", scenarios_file="my scenarios.py", seed=3)
    assert command == (f"python -m harness run mine --agent my-router --scenarios {shlex.quote(str(tmp_path / 'my scenarios.py'))}"
                       " --seed 3")
    assert shlex.split(command)[8] == str(tmp_path / "my scenarios.py")
    assert local_router.BASELINE.reproduce_command(always_replay=True, scenarios_file="my scenarios.py") == (
        f"python -m harness run baseline --agent local-router --scenarios {shlex.quote(str(tmp_path / 'my scenarios.py'))}"
        " --always-replay")


def test_odd_names_are_quoted_for_the_shell() -> None:
    assert shlex.split(run_command("a b; rm -rf /", "x")) == ["python", "-m", "harness", "run", "a b; rm -rf /", "--agent", "x"]
    assert run_command("bare", "?") == "python -m harness run bare"  # an agent older results lacked
    assert run_command("bare", "") == "python -m harness run bare"


def test_a_soak() -> None:
    assert soak_command("remote", 200, 3, 9) == "python -m harness soak --router remote --n 200 --faults 3 --seed 9"
    assert soak_command("local", 5, 0, 1, always_replay=True) == (
        "python -m harness soak --router local --n 5 --faults 0 --seed 1 --always-replay")


def test_a_pytest_test() -> None:
    assert nodeid_command("tests/test_agents.py::test_crash") == "pytest tests/test_agents.py::test_crash"
    assert nodeid_command("tests/test_agents.py::test_crash[kill router]", always_replay=True) == (
        "pytest 'tests/test_agents.py::test_crash[kill router]' --always-replay")


def test_results_without_a_recorded_command() -> None:
    recorded = ScenarioResult("soak-local", "local-router", "pass", reproduce="python -m harness soak --router local --n 9 --faults 1 --seed 2")
    assert reproduce_command(recorded) == recorded.reproduce
    old = ScenarioResult("random-faults-local", "local-router", "fail", seed=4, always_replay=True)
    assert reproduce_command(old) == "python -m harness run random-faults-local --agent local-router --seed 4 --always-replay"


# --- the CLI records them ---------------------------------------------------------------------

USER_FILE = '''
from harness import Requests, Scenario, python_app

ROUTER = python_app("router", "agents.local_router:app", ["AgentRouter"], label="my-router")
SCENARIOS = [Scenario("mine", "a scenario of my own", (ROUTER,), lambda llm: None, Requests("AgentRouter", "answer", "q {token}"))]
'''


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Runs the CLI with the scenario runner faked (nothing is started); returns the
    reproduce commands written to results.json."""
    seen: list[Scenario] = []

    def fake_run_scenario(scenario: Scenario, run_dir: Path, *, always_replay: bool = False, **_: Any) -> ScenarioResult:
        seen.append(scenario)
        return ScenarioResult(scenario.name, scenario.agent_label, "pass", always_replay=always_replay, seed=scenario.seed,
                              reproduce=scenario.reproduce_command(always_replay=always_replay))

    monkeypatch.setattr(cli, "run_scenario", fake_run_scenario)
    monkeypatch.setattr(cli.versions, "collect", lambda *a, **k: {})
    monkeypatch.setattr(cli.binaries, "restate_server", lambda *a, **k: "restate-server")
    monkeypatch.setattr(cli.binaries, "toxiproxy_server", lambda *a, **k: "toxiproxy-server")

    def run(*argv: str) -> list[str]:
        out = tmp_path / "reports"
        assert cli.main([*argv, "--out", str(out)]) == 0
        return [s["reproduce"] for s in json.loads((out / "latest" / "results.json").read_text())["scenarios"]]

    return run


def test_the_cli_records_the_users_file(recorded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.py").write_text(USER_FILE)
    monkeypatch.chdir(tmp_path)
    assert recorded("run", "--scenarios", "mine.py", "--always-replay") == [
        f"python -m harness run mine --agent my-router --scenarios {tmp_path / 'mine.py'} --always-replay"]


def test_the_cli_records_a_soak(recorded: Any) -> None:
    assert recorded("soak", "--router", "local", "--n", "3", "--faults", "1", "--seed", "5", "--always-replay") == [
        "python -m harness soak --router local --n 3 --faults 1 --seed 5 --always-replay"]


def test_the_cli_records_a_catalogue_run_with_a_seed(recorded: Any) -> None:
    assert recorded("run", "random-faults-local", "--seed", "11") == [
        "python -m harness run random-faults-local --agent local-router --seed 11"]


def test_a_validation_is_reproduced_whole_from_the_folder_it_ran_in(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from harness.results.reproduce import validate_command

    command = validate_command(["validate", "--cmd", "node index.mjs --port {port}", "--stub", "refunds=REFUNDS_URL"], tmp_path)
    assert command == (f"cd {tmp_path} && python -m harness validate --cmd 'node index.mjs --port {{port}}' "
                       "--stub refunds=REFUNDS_URL")

"""Bad input gets one clear message and a non-zero exit, never a traceback; and a broken
scenario never hides the others' results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.env.binaries import PROJECT_ROOT
from harness.env.environment import AgentSpec
from harness.runner.scenario import run_scenario
from scenarios.local_router import BASELINE


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def one_line_exit_2(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (("run", "no-such-scenario"), "unknown scenario no-such-scenario"),
        (("run", "--tag", "no-such-tag"), "unknown tag no-such-tag"),
        (("list", "--agent", "no-such-agent"), "unknown agent no-such-agent"),
        (("run", "baseline", "--seed", "minus-one"), "invalid value 'minus-one'"),
        (("soak", "--n", "0"), "invalid value 0"),
        (("report", "/nonexistent/run"), "cannot read results from /nonexistent/run/results.json"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: tuple[str, ...], expected: str) -> None:
    one_line_exit_2(cli(*args), expected)


def test_malformed_scenario_files_are_one_line_and_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("SCENARIOS = [\n")
    one_line_exit_2(cli("run", "--scenarios", str(broken)), "malformed scenario file")
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    one_line_exit_2(cli("list", "--scenarios", str(empty)), "defines no SCENARIOS")
    wrong = tmp_path / "wrong.py"
    wrong.write_text("SCENARIOS = ['baseline']\n")
    one_line_exit_2(cli("list", "--scenarios", str(wrong)), "must be a non-empty list of harness.Scenario")


def test_a_garbled_results_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text("{not json")
    one_line_exit_2(cli("report", str(tmp_path)), "cannot read results from")


def test_a_users_scenario_file_runs_and_the_report_can_be_rebuilt(tmp_path: Path) -> None:
    mine = tmp_path / "my_scenarios.py"
    mine.write_text(
        "from dataclasses import replace\n"
        "from scenarios.local_router import BASELINE\n"
        "SCENARIOS = [replace(BASELINE, name='my-baseline', tags=('mine',))]\n"
    )
    done = cli("run", "--scenarios", str(mine), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "out" / "latest" / "results.json").read_text())
    assert [s["name"] for s in results["scenarios"]] == ["my-baseline"]
    report = tmp_path / "out" / "latest" / "index.html"
    report.unlink()
    rebuilt = cli("report", str(tmp_path / "out" / "latest" / "results.json"))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "my-baseline" in report.read_text()


def test_missing_binary_says_how_to_install_it(tmp_path: Path) -> None:
    done = cli("run", "baseline", "--out", str(tmp_path), env={"RESTATE_SERVER_BIN": str(tmp_path / "nope")})
    one_line_exit_2(done, "RESTATE_SERVER_BIN")


def test_missing_binary_on_path_gives_the_install_command(tmp_path: Path, monkeypatch) -> None:
    from harness.env import binaries

    monkeypatch.setattr(binaries, "_TOOLS_BIN", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("TOXIPROXY_SERVER_BIN", raising=False)
    try:
        binaries.toxiproxy_server()
    except binaries.HarnessError as exc:
        assert "go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0" in str(exc)
    else:
        raise AssertionError("a missing toxiproxy-server must raise")


def test_an_agent_that_fails_to_start_shows_its_log_tail(tmp_path: Path) -> None:
    broken = AgentSpec(
        "router",
        (sys.executable, "-c", "import sys; print('agent boot failed: no OPENAI key wiring'); sys.exit(3)"),
        ("AgentRouter",),
        label="broken",
    )
    result = run_scenario(BASELINE.with_agents(broken), tmp_path)
    assert result.verdict == "unknown"
    assert any("agent boot failed: no OPENAI key wiring" in e for e in result.errors), result.errors


def test_a_deployment_without_the_expected_service_is_reported(tmp_path: Path) -> None:
    wrong = replace(BASELINE.agents[0], services=("NotTheRouter",))
    result = run_scenario(BASELINE.with_agents(wrong), tmp_path)
    assert result.verdict == "unknown"
    assert any("does not offer ['NotTheRouter']" in e for e in result.errors), result.errors


def test_the_cli_writes_results_json_and_the_summary_for_every_scenario(tmp_path: Path) -> None:
    done = cli("run", "baseline", "latency-on-llm-link", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "latest" / "results.json").read_text())
    names = [s["name"] for s in results["scenarios"]]
    assert names == ["baseline", "latency-on-llm-link"]
    for s in results["scenarios"]:
        assert {"name", "agent", "verdict", "invocations", "llm_calls", "recovery_s", "faults"} <= s.keys()
        assert s["verdict"] == "pass"
    assert results["scenarios"][1]["faults"][0]["kind"] == "latency"
    assert (tmp_path / "latest" / "index.html").read_text().count("latency-on-llm-link") >= 2

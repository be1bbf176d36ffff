"""Bad input gets one clear message and a non-zero exit, never a traceback; and a broken
scenario never hides the others' results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from harness.binaries import PROJECT_ROOT
from harness.environment import AgentSpec
from harness.scenario import run_scenario
from scenarios.local_router import BASELINE


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def test_unknown_scenario_is_one_line_and_exit_2() -> None:
    done = cli("run", "no-such-scenario")
    assert done.returncode == 2
    assert "unknown scenario no-such-scenario" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_missing_binary_says_how_to_install_it(tmp_path: Path) -> None:
    done = cli("run", "baseline", "--out", str(tmp_path), env={"RESTATE_SERVER_BIN": str(tmp_path / "nope")})
    assert done.returncode == 2
    assert "RESTATE_SERVER_BIN" in done.stderr and "Traceback" not in done.stderr


def test_missing_binary_on_path_gives_the_install_command(tmp_path: Path, monkeypatch) -> None:
    from harness import binaries

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

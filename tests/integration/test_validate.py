"""``restate-resilience validate`` end to end, as a user runs it: one command, no scripting.
The reference agents validate green; each mutant is caught with the right bug class.

Agents written in other styles and languages (the OpenAI Agents SDK, Pydantic AI,
TypeScript, prompts without the token) are in ``test_validate_styles.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.env.binaries import PROJECT_ROOT

from .conftest import has_restatectl

SERVE = f"{sys.executable} -m harness.serve"
CLASSES = {
    "duplicate_llm_call", "duplicate_side_effect", "duplicate_child_work", "non_determinism",
    "degraded_answer", "retry_storm", "stuck_invocation",
}


def validate(tmp_path: Path, *args: str, cwd: Path = PROJECT_ROOT) -> tuple[int, dict, str]:
    """Run the CLI; returns (exit code, results.json's "validation", the console output)."""
    out = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "validate", "--cwd", str(cwd), "--out", str(out), *args],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    results = sorted(out.glob("*/results.json"))
    document = json.loads(results[-1].read_text()) if results else {}
    return done.returncode, document.get("validation", {}), done.stdout + done.stderr


def verdicts(validation: dict) -> dict[str, str]:
    return {name: row["verdict"] for name, row in validation.get("classes", {}).items()}


def test_the_reference_local_router_validates_green(tmp_path: Path, no_leftovers) -> None:
    code, validation, output = validate(tmp_path, "--cmd", f"{SERVE} agents.local_router:app --port {{port}}")
    assert code == 0, output
    assert set(verdicts(validation)) == CLASSES
    assert all(v in ("pass", "skipped") for v in verdicts(validation).values()), output
    # Every crash point the baseline showed was exercised: two LLM calls, two steps.
    assert {"kill-agent-at-llm-call-1", "kill-agent-at-llm-call-2", "kill-agent-after-step-1",
            "kill-agent-after-step-2", "always-replay"} <= set(validation["plan"]), validation["plan"]
    assert verdicts(validation)["duplicate_llm_call"] == "pass"
    assert "green" in output


def test_an_unjournaled_llm_call_is_a_duplicate_llm_call(tmp_path: Path, no_leftovers) -> None:
    code, validation, output = validate(tmp_path, "--cmd", f"{SERVE} agents.mutants.unjournaled_routing:app --port {{port}}")
    assert code == 1, output
    row = validation["classes"]["duplicate_llm_call"]
    assert row["verdict"] == "fail", output
    assert row["scenario"].startswith(("kill-", "always-replay", "llm-", "partition-")), row
    assert "ctx.run" in row["fix"] and "call #" in row["evidence"], row
    assert "duplicate_llm_call" in output and "fix:" in output


def test_random_routing_outside_a_step_is_non_determinism(tmp_path: Path, no_leftovers) -> None:
    code, validation, output = validate(tmp_path, "--cmd", f"{SERVE} agents.mutants.random_routing:app --port {{port}}")
    assert code == 1, output
    row = validation["classes"]["non_determinism"]
    assert row["verdict"] == "fail", output
    assert "RT0016" in row["evidence"], row  # the whole message, naming the command


def test_a_refund_outside_a_step_is_a_duplicate_side_effect(tmp_path: Path, no_leftovers) -> None:
    code, validation, output = validate(
        tmp_path, "--cmd", f"{SERVE} agents.mutants.refund_outside_run:app --port {{port}}", "--stub", "refunds=REFUNDS_URL"
    )
    assert code == 1, output
    assert validation["classes"]["duplicate_side_effect"]["verdict"] == "fail", output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--cmd", "false {port}"], "exited with code 1"),
        (["--cmd", f"{SERVE} agents.local_router:app --port {{port}}", "--entry", "Nope/run"], "unknown entry Nope/run"),
        (["--cmd", f"{SERVE} agents.local_router:app --port {{port}}", "--input", "{not json"], "--input is not JSON"),
        (["--cmd", "python -m http.server"], "must use {port}"),
        ([], "name the agent"),
    ],
    ids=["command-exits", "unknown-entry", "bad-json", "no-port", "nothing"],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], expected: str, no_leftovers) -> None:
    code, _, output = validate(tmp_path, *args)
    assert code == 2, output
    assert expected in output, output
    assert "Traceback" not in output


def test_a_url_that_is_not_a_restate_deployment_is_bad_input(tmp_path: Path, no_leftovers) -> None:
    server = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        port = int(line.split("port ")[1].split()[0])
        code, _, output = validate(tmp_path, "--url", f"http://127.0.0.1:{port}")
    finally:
        server.kill()
        server.wait()
    assert code == 2, output
    assert "could not register" in output and "Traceback" not in output, output


def test_the_pytest_fixture_validates_as_the_command_does(resilience_validate, no_leftovers) -> None:
    validation = resilience_validate(cmd=f"{SERVE} agents.mutants.unjournaled_routing:app --port {{port}}", cwd=PROJECT_ROOT)
    assert not validation.green
    assert validation.classes["duplicate_llm_call"].verdict == "fail"
    assert validation.classes["duplicate_llm_call"].scenario in validation.to_json()["plan"]


@pytest.mark.parametrize(
    ("entry", "waits_on"),
    [("Signup/run", "the durable promise 'approved'"), ("Approver/ask", "an awakeable")],
    ids=["workflow-promise", "awakeable"],
)
def test_a_handler_that_waits_for_a_human_needs_input(tmp_path: Path, entry: str, waits_on: str, no_leftovers) -> None:
    code, _, output = validate(tmp_path, "--cmd", f"{SERVE} app:app --port {{port}}", "--entry", entry,
                               cwd=PROJECT_ROOT / "agents" / "validation" / "awaits_approval")
    assert code == 2, output
    assert "needs input" in output and waits_on in " ".join(output.split()), output
    assert "Traceback" not in output



@pytest.mark.skipif(not has_restatectl(), reason="restatectl not installed: ./scripts/setup")
@pytest.mark.parametrize(("app", "caught_as"), [("agents.local_router:app", None),
                                                ("agents.mutants.unjournaled_routing:app", "duplicate_llm_call")],
                         ids=["reference router", "unjournaled routing"])
def test_validate_on_the_cluster_judges_as_on_one_server(tmp_path: Path, app: str, caught_as: str | None,
                                                          no_leftovers) -> None:
    code, validation, output = validate(tmp_path, "--topology", "cluster", "--cmd", f"{SERVE} {app} --port {{port}}")
    failed = {name for name, verdict in verdicts(validation).items() if verdict == "fail"}
    if caught_as is None:
        assert code == 0 and not failed, output
    else:
        assert code == 1 and caught_as in failed, output
    assert "restate-3.log" in {p.name for p in (tmp_path / "reports").glob("*/*/logs/*")}, "not run on the cluster"

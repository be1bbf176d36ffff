"""``restate-resilience validate`` end to end, as a user runs it: one command, no scripting.
The reference agents validate green; each mutant is caught with the right bug class.

Agents written in other styles and languages (the OpenAI Agents SDK, Pydantic AI,
TypeScript, prompts without the token) are in ``test_validate_styles.py``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.env.binaries import PROJECT_ROOT

from .conftest import has_restatectl

SERVE = f"{sys.executable} -m harness.serve"
CLASSES = {
    "duplicate_llm_call", "duplicate_side_effect", "duplicate_child_work", "non_determinism",
    "degraded_answer", "poisoned_journal", "retry_storm", "stuck_invocation",
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


def failed(validation: dict) -> set[str]:
    return {name for name, verdict in verdicts(validation).items() if verdict == "fail"}


def test_the_reference_local_router_validates_green(tmp_path: Path, no_leftovers) -> None:
    code, validation, output = validate(tmp_path, "--cmd", f"{SERVE} agents.local_router:app --port {{port}}")
    assert code == 0, output
    assert set(verdicts(validation)) == CLASSES
    assert not failed(validation) and validation["green"], output
    assert validation["summary"].startswith("green: no safety finding"), validation["summary"]
    # Every crash point a kill can land at was exercised: two LLM calls, and the step the second
    # call follows. The request ends milliseconds after its last step, before a kill can land
    # (`--budget full` plans it: unknown every time), so quick spends no run on it.
    assert {"kill-agent-at-llm-call-1", "kill-agent-at-llm-call-2", "kill-agent-after-step-1",
            "always-replay"} <= set(validation["plan"]), validation["plan"]
    assert "kill-agent-after-step-2" not in validation["plan"]
    assert verdicts(validation)["duplicate_llm_call"] == "pass"
    assert "green: no safety finding" in output, output


def test_an_unjournaled_llm_call_is_a_duplicate_llm_call(tmp_path: Path, no_leftovers) -> None:
    code, validation, output = validate(tmp_path, "--cmd", f"{SERVE} agents.mutants.unjournaled_routing:app --port {{port}}")
    assert code == 1, output
    assert failed(validation) == {"duplicate_llm_call"}, output  # the planted class, and nothing else
    row = validation["classes"]["duplicate_llm_call"]
    assert row["scenario"].startswith(("kill-", "always-replay", "llm-", "partition-")), row
    assert "ctx.run" in row["fix"] and "call #" in row["evidence"], row
    assert "duplicate_llm_call" in output and "fix:" in output


def test_routing_cached_in_process_memory_is_a_duplicate_llm_call_when_the_process_dies(tmp_path: Path,
                                                                                        no_leftovers) -> None:
    # Every retry against the same process finds the decision cached; only a kill loses it.
    code, validation, output = validate(tmp_path, "--cmd", f"{SERVE} agents.mutants.cached_routing:app --port {{port}}")
    assert code == 1, output
    assert failed(validation) == {"duplicate_llm_call"}, output
    assert validation["classes"]["duplicate_llm_call"]["scenario"].startswith(("kill-agent", "random-schedule")), output


def test_random_routing_outside_a_step_is_non_determinism(tmp_path: Path, no_leftovers) -> None:
    code, validation, output = validate(tmp_path, "--cmd", f"{SERVE} agents.mutants.random_routing:app --port {{port}}")
    assert code == 1, output
    assert failed(validation) == {"non_determinism"}, output
    row = validation["classes"]["non_determinism"]
    assert "RT0016" in row["evidence"], row  # the whole message, naming the command
    # Its symptoms (another answer, an invocation stopped by the mismatch) are listed under it.
    for symptom, caused in validation["classes"].items():
        if caused["verdict"] == "caused":
            assert caused["caused_by"] == "non_determinism" and symptom in ("degraded_answer", "stuck_invocation",
                                                                            "duplicate_child_work"), caused


def test_a_refund_outside_a_step_is_a_duplicate_side_effect(tmp_path: Path, no_leftovers) -> None:
    code, validation, output = validate(
        tmp_path, "--cmd", f"{SERVE} agents.mutants.refund_outside_run:app --port {{port}}", "--stub", "refunds=REFUNDS_URL"
    )
    assert code == 1, output
    assert failed(validation) == {"duplicate_side_effect"}, output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--cmd", "false {port}"], "exited with code 1"),
        (["--cmd", f"{SERVE} agents.local_router:app --port {{port}}", "--entry", "Nope/run"], "unknown entry Nope/run"),
        (["--cmd", f"{SERVE} agents.local_router:app --port {{port}}", "--input", "{not json"], "--input is not JSON"),
        (["--cmd", "python -m http.server"], "must use {port}"),
        ([], "name the agent"),
        (["--cmd", f"{SERVE} agents.local_router:app --port {{port}}", "--fail-on", "stuck,nope"],
         "'nope' is not a bug class"),
        (["--cmd", f"{SERVE} agents.local_router:app --port {{port}}", "--expect-terminal-within", "soon"],
         "expected a duration"),
        (["--cmd", f"{SERVE} agents.local_router:app --port {{port}}", "--key", "k1"], "is a plain Service"),
        (["--url", "http://127.0.0.1:9"], "--url http://127.0.0.1:9: nothing answers there"),
    ],
    ids=["command-exits", "unknown-entry", "bad-json", "no-port", "nothing", "fail-on", "duration", "key", "url"],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], expected: str, no_leftovers) -> None:
    started = time.monotonic()
    code, _, output = validate(tmp_path, *args)
    assert code == 2, output
    assert expected in " ".join(output.split()), output
    assert "Traceback" not in output
    assert time.monotonic() - started < 15, "found at a deadline, not at once"  # the baseline's is 30 s


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


def test_an_advisory_fails_only_the_team_that_asks_for_it(resilience_validate, no_leftovers) -> None:
    # A client with no timeout: a hung call holds the request until Restate aborts the attempt.
    # That is slow, not wrong: an advisory, green by default; red for a team that fails on it.
    folder = PROJECT_ROOT / "agents" / "mutants" / "stuck_no_timeout"
    args = dict(cmd="python -m hypercorn app:app --bind 127.0.0.1:{port}".replace("python", sys.executable), cwd=folder,
                entry="Writer/draft", input={"message": "Please cancel my subscription {token}"})
    validation = resilience_validate(**args, fail_on="stuck")
    row = validation.classes["stuck_invocation"]
    assert not validation.green and row.verdict == "fail" and row.promoted, row
    assert "Restate aborted the attempt" in row.evidence and "11 min" in row.evidence, row.evidence
    assert {cls for cls, r in validation.classes.items() if r.verdict == "fail"} == {"stuck_invocation"}


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

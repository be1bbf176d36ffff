"""The pytest plugin as a user meets it: a test file in their own repository, using the
fixtures against an agent, with --junitxml and --resilience-report; the marker's options,
the terminal summary, and a skip when a binary is not installed."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.env.binaries import PROJECT_ROOT

pytest_plugins = ["pytester"]

USER_TEST = '''
import pytest
from harness import Kill, LLMCallHeld, Requests, python_app, tool_call

# The user's own agent, in their repository (here: a copy of the reference router).
MY_ROUTER = python_app("router", "my_agents.local_router:app", ["AgentRouter"], label="my-router")


@pytest.mark.resilience(inactivity_timeout_s=2.0, trigger_timeout_s=15)
def test_router_survives_a_crash(resilience_environment, resilience_checks):
    run = resilience_environment(MY_ROUTER)
    assert (run.env.inactivity_timeout_s, run.trigger_timeout_s, run.env.always_replay) == (2.0, 15.0, False)
    run.llm.on(has_tools=True).reply(tool_call("BillingAgent"))
    run.llm.on(system_contains="billing").hold().reply("Refunded.", times=1)
    run.llm.on(system_contains="billing").reply("Refunded.")
    run.send(Requests("AgentRouter", "answer", "I was charged twice {token}"))
    run.inject(Kill("router", when=LLMCallHeld(2)))
    result = run.check(*resilience_checks("Refunded."))
    assert result.verdict == "pass", result.explain()
    assert result.llm_calls == {"committed": 2, "wasted": 1, "duplicate": 0}


@pytest.mark.resilience(always_replay=True)
def test_a_whole_catalogue_scenario(resilience):
    from harness.catalogue import catalogue_module

    result = resilience.run(catalogue_module("local_router").BASELINE)
    assert result.verdict == "pass", result.explain()
    assert result.always_replay
'''


def test_a_user_writes_scenarios_with_the_fixtures_and_gets_junit_and_a_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_agents=USER_TEST)
    shutil.copytree(PROJECT_ROOT / "agents", pytester.path / "my_agents", ignore=shutil.ignore_patterns("product_agent_ts"))
    report_dir = pytester.path / "resilience-report"
    junit = pytester.path / "junit.xml"

    outcome = pytester.runpytest_subprocess(f"--junitxml={junit}", f"--resilience-report={report_dir}", "-p", "no:cacheprovider")

    outcome.assert_outcomes(passed=2)
    outcome.stdout.fnmatch_lines([
        "*= resilience results =*",
        "pass * test_router_survives_a_crash [[]my-router[]]  LLM calls c/w/d 2/1/0  recovery *",
        "pass * baseline [[]local-router[]]  LLM calls c/w/d 2/0/0",
        f"report: {report_dir / 'index.html'}",
    ])
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    properties = {p.get("name"): p.get("value") for p in cases["test_router_survives_a_crash"].iter("property")}
    assert properties["resilience.verdict"] == "pass"
    assert properties["resilience.llm_wasted"] == "1" and properties["resilience.llm_duplicate"] == "0"
    assert properties["resilience.faults"] == "kill:router"
    assert float(properties["resilience.recovery_s"]) > 0

    results = json.loads((report_dir / "results.json").read_text())
    assert results["schema_version"] == 2
    assert [s["name"] for s in results["scenarios"]] == ["test_router_survives_a_crash", "baseline"]
    assert results["scenarios"][0]["agent"] == "my-router"
    assert [(s["always_replay"], s["reproduce"]) for s in results["scenarios"]] == [
        (False, "pytest test_user_agents.py::test_router_survives_a_crash"),
        (True, "pytest test_user_agents.py::test_a_whole_catalogue_scenario --always-replay"),
    ]
    assert (report_dir / "index.html").exists()


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    outcome = pytester.runpytest_subprocess("--markers")
    outcome.stdout.fnmatch_lines(["*resilience: a resilience scenario*"])


# --- without starting anything -------------------------------------------------------------

OPTIONS_TEST = '''
import pytest


@pytest.mark.resilience(always_replay=True, inactivity_timeout_s=5, trigger_timeout_s=7.5)
def test_options(resilience):
    assert resilience.always_replay is True
    assert (resilience.options.inactivity_timeout_s, resilience.options.trigger_timeout_s) == (5.0, 7.5)


@pytest.mark.resilience
def test_defaults(resilience):
    assert resilience.always_replay is False
    assert (resilience.options.inactivity_timeout_s, resilience.options.trigger_timeout_s) == (None, None)


@pytest.mark.resilience(always_replay=False)
def test_the_marker_beats_the_option(resilience):
    assert resilience.always_replay is False


@pytest.mark.resilience(inactivity=5)
def test_unknown_option(resilience):
    pass


@pytest.mark.resilience(trigger_timeout_s="soon")
def test_bad_value(resilience):
    pass


@pytest.mark.resilience(fail_on="stuck,retry_storm")
def test_fail_on(resilience):
    assert resilience.options.fail_on == {"stuck_invocation", "retry_storm"}


@pytest.mark.resilience(fail_on="stuk")
def test_bad_fail_on(resilience):
    pass
'''


def test_marker_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marker=OPTIONS_TEST)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=4, errors=3)
    outcome.stdout.fnmatch_lines([
        "*test_unknown_option*: unknown option inactivity; known: always_replay, inactivity_timeout_s, trigger_timeout_s, fail_on, cassette, on_miss",
        "*test_bad_value*: trigger_timeout_s must be a number of seconds, not 'soon'",
        "*test_bad_fail_on*: --fail-on 'stuk': 'stuk' is not a bug class*",
    ], consecutive=False)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--always-replay", "-k", "test_options or marker_beats")
    outcome.assert_outcomes(passed=2, deselected=5)


NEEDS_BINARIES = '''
from harness import python_app


def test_an_environment(resilience_environment):
    resilience_environment(python_app("router", "agents.local_router:app", ["AgentRouter"]))


def test_a_scenario(resilience):
    raise AssertionError("not reached")


def test_the_checks_need_no_binary(resilience_checks):
    assert resilience_checks("x")
'''


def test_a_binary_that_is_not_installed_skips(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    # Named explicitly, but nothing is there: not installed, so the test skips with the
    # command that installs it (the pinned .tools/bin one is not used instead).
    monkeypatch.setenv("RESTATE_SERVER_BIN", str(tmp_path / "nowhere" / "restate-server"))
    pytester.makepyfile(test_needs_binaries=NEEDS_BINARIES)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    outcome.assert_outcomes(passed=1, skipped=2)
    outcome.stdout.fnmatch_lines([
        "SKIPPED * restate-server is not installed: RESTATE_SERVER_BIN=*/nowhere/restate-server does not exist; "
        "install it: restate-resilience install (or npm install @restatedev/restate-server@1.7.12)",
    ])


def test_a_binary_that_cannot_be_executed_is_an_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    # There, but not executable: a misconfiguration to fix, not a reason to skip.
    broken = tmp_path / "toxiproxy-server"
    broken.write_text("not a program")
    os.chmod(broken, 0o644)
    monkeypatch.setenv("TOXIPROXY_SERVER_BIN", str(broken))
    pytester.makepyfile(test_needs_binaries=NEEDS_BINARIES)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=1, errors=2)
    outcome.stdout.fnmatch_lines([f"*TOXIPROXY_SERVER_BIN={broken} is not an executable file (fix or unset TOXIPROXY_SERVER_BIN)"])

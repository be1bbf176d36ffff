"""The pytest plugin as a user meets it: a test file in their own repository, using the
fixtures against an agent, with --junitxml and --resilience-report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

pytest_plugins = ["pytester"]

USER_TEST = '''
import pytest
from harness import Kill, LLMCallHeld, Requests, python_app, tool_call

MY_ROUTER = python_app("router", "agents.local_router:app", ["AgentRouter"], label="my-router")


@pytest.mark.resilience
def test_router_survives_a_crash(resilience_environment, resilience_checks):
    run = resilience_environment(MY_ROUTER)
    run.llm.on(has_tools=True).reply(tool_call("BillingAgent"))
    run.llm.on(system_contains="billing").hold().reply("Refunded.", times=1)
    run.llm.on(system_contains="billing").reply("Refunded.")
    run.send(Requests("AgentRouter", "answer", "I was charged twice {token}"))
    run.inject(Kill("router", when=LLMCallHeld(2)))
    result = run.check(*resilience_checks("Refunded."))
    assert result.verdict == "pass", result.explain()
    assert result.llm_calls == {"committed": 2, "wasted": 1, "duplicate": 0}


@pytest.mark.resilience
def test_a_whole_catalogue_scenario(resilience):
    from scenarios.local_router import BASELINE

    assert resilience.run(BASELINE).verdict == "pass"
'''


def test_a_user_writes_scenarios_with_the_fixtures_and_gets_junit_and_a_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_agents=USER_TEST)
    report_dir = pytester.path / "resilience-report"
    junit = pytester.path / "junit.xml"

    outcome = pytester.runpytest_subprocess(f"--junitxml={junit}", f"--resilience-report={report_dir}", "-p", "no:cacheprovider")

    outcome.assert_outcomes(passed=2)
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    properties = {p.get("name"): p.get("value") for p in cases["test_router_survives_a_crash"].iter("property")}
    assert properties["resilience.verdict"] == "pass"
    assert properties["resilience.llm_wasted"] == "1" and properties["resilience.llm_duplicate"] == "0"
    assert properties["resilience.faults"] == "kill:router"
    assert float(properties["resilience.recovery_s"]) > 0

    results = json.loads((report_dir / "results.json").read_text())
    assert [s["name"] for s in results["scenarios"]] == ["test_router_survives_a_crash", "baseline"]
    assert results["scenarios"][0]["agent"] == "my-router"
    assert (report_dir / "index.html").exists()


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    outcome = pytester.runpytest_subprocess("--markers")
    outcome.stdout.fnmatch_lines(["*resilience: a resilience scenario*"])

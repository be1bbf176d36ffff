"""The validation plan from a hand-made baseline: every probe's faults heal and liveness is
judged within a bound from the fast Restate settings; the hang and the outage probes carry
their advisories; ``--expect-terminal-within`` adds its check and lengthens the outage."""

from __future__ import annotations

from dataclasses import fields

import pytest

from harness.checker.checks import SameAnswerAsBaseline
from harness.checker.liveness import HangEnded, RecoversAfterHealing, recovery_bound
from harness.checker.retries import CallsPerAttempt, RetriesBounded, TerminalWithin
from harness.history import History
from harness.nemesis.faults import LLMServerError, LLMStreamCut
from harness.nemesis.triggers import After
from harness.restate_settings import FAST
from harness.runner.scenario import Scenario
from harness.validate.baseline import Baseline, LLMCallPoint
from harness.validate.plan import QUICK_MAX, Probe, make_plan

BASELINE = Baseline(
    output="answered {token}", llm_calls=(LLMCallPoint(1, "Router"), LLMCallPoint(2, "Router")),
    steps=(("Router", "route"), ("Router", "answer")), children=(), side_effects=0, services=("Router",),
    duration_s=0.5,
)
AGENT_OF = {"Router": "agent"}


def plan(budget: str = "quick", **kw: object) -> dict[str, Probe]:
    return {p.name: p for p in make_plan(BASELINE, AGENT_OF, budget=budget, **kw)}  # type: ignore[arg-type]


def kinds(probe: Probe) -> list[tuple[str, str]]:
    return [(type(c).__name__, c.severity) for c in probe.checks]


def test_the_quick_plan_has_at_most_15_probes_and_kills_at_each_call_and_step() -> None:
    probes = plan()
    assert QUICK_MAX == 15 and len(probes) <= QUICK_MAX
    assert {"kill-agent-at-llm-call-1", "kill-agent-at-llm-call-2", "kill-agent-after-step-1", "kill-agent-after-step-2",
            "always-replay", "llm-429-at-call-1", "llm-5xx-at-call-2", "llm-down-then-back", "llm-hang",
            "kill-restate-server", "partition-restate-to-agent", "random-schedule-seed-1"} == set(probes)


@pytest.mark.parametrize("budget", ["quick", "full"])
def test_every_fault_of_every_probe_heals(budget: str) -> None:
    for probe in plan(budget).values():
        assert all(f.until is not None for f in probe.faults), probe.name


@pytest.mark.parametrize("budget", ["quick", "full"])
def test_every_probe_judges_recovery_within_the_fast_settings_bound(budget: str) -> None:
    bound = recovery_bound(FAST, 0.5)
    assert bound == pytest.approx(4.0 + 1.0 + 1.0 + 10.0)
    for probe in plan(budget).values():
        recovers = [c for c in probe.checks if isinstance(c, RecoversAfterHealing)]
        assert [(c.bound(History(0.0, restate=FAST)), c.severity) for c in recovers] == [(bound, "finding")], probe.name
        assert probe.deadline_s == bound


def test_the_hang_probe_has_a_hang_ended_advisory() -> None:
    probe = plan()["llm-hang"]
    assert ("HangEnded", "advisory") in kinds(probe)
    assert [c for c in probe.checks if isinstance(c, HangEnded)][0].bug_class == "stuck_invocation"


def test_the_outage_probe_judges_retries_per_attempt_and_not_a_terminal_failure_by_default() -> None:
    probe = plan()["llm-down-then-back"]
    assert [(c.at_most, c.severity) for c in probe.checks if isinstance(c, CallsPerAttempt)] == [(10, "finding"), (1, "advisory")]
    assert [c.severity for c in probe.checks if isinstance(c, RetriesBounded)] == ["advisory"]
    assert not any(isinstance(c, (TerminalWithin, SameAnswerAsBaseline)) for c in probe.checks)
    (outage,) = probe.faults
    assert isinstance(outage, LLMServerError) and outage.times is None and outage.until == After(6.0)


def test_expecting_a_terminal_failure_adds_its_check_and_outlasts_it_by_5_s() -> None:
    probe = plan(expect_terminal_within_s=30)["llm-down-then-back"]
    assert [(c.seconds, c.severity) for c in probe.checks if isinstance(c, TerminalWithin)] == [(30, "finding")]
    assert probe.faults[0].until == After(35.0)
    assert "for 35 s" in probe.description


def test_the_full_budget_adds_a_stream_cut_at_every_call() -> None:
    quick, full = plan(), plan("full")
    cuts = {name: p for name, p in full.items() if isinstance(p.faults[0] if p.faults else None, LLMStreamCut)}
    assert set(cuts) == {"llm-stream-cut-at-call-1", "llm-stream-cut-at-call-2"}
    assert [p.faults[0].skip for p in cuts.values()] == [0, 1]
    assert not any(name.startswith("llm-stream-cut") for name in quick)
    assert set(quick) < set(full)


def test_an_expected_terminal_outage_heals_before_the_runs_trigger_timeout() -> None:
    probe = plan(expect_terminal_within_s=30)["llm-down-then-back"]
    default = next(f.default for f in fields(Scenario) if f.name == "trigger_timeout_s")
    assert probe.faults[0].until.seconds > default  # longer than any other probe's heal...
    assert probe.faults[0].until.seconds < probe.trigger_timeout_s  # ...and awaited for long enough


def test_every_tool_service_gets_a_crash_point_an_error_and_a_hang_at_its_first_call() -> None:
    from dataclasses import replace

    from harness.nemesis.faults import Kill, ToolError, ToolHang, ToolHold
    from harness.validate.baseline import ToolCallPoint

    baseline = replace(BASELINE, side_effects=3, tool_calls=(
        ToolCallPoint("payments", 1, "pay", "mcp"), ToolCallPoint("payments", 2, "pay", "mcp"),
        ToolCallPoint("mail", 1, "POST /send")))
    probes = {p.name: p for p in make_plan(baseline, AGENT_OF, budget="quick")}
    tools = {name for name in probes if "payments" in name or "mail" in name}
    assert tools == {f"{kind}" for stub in ("payments", "mail") for kind in (
        f"kill-agent-at-{stub}-call-1", f"{stub}-error-at-call-1", f"{stub}-hang-at-call-1")}
    kill = probes["kill-agent-at-payments-call-1"]
    assert [type(f) for f in kill.faults] == [ToolHold, Kill] and kill.killed_agents == {"agent"}
    assert isinstance(probes["mail-error-at-call-1"].faults[0], ToolError)
    assert isinstance(probes["mail-hang-at-call-1"].faults[0], ToolHang)
    # A tool's error may reach the model, which then answers otherwise: an advisory, not a finding.
    same = [c for c in probes["payments-error-at-call-1"].checks if isinstance(c, SameAnswerAsBaseline)]
    assert [c.severity for c in same] == ["advisory"]
    # The tool probes come on top of the quick budget; the LLM's are all still there.
    assert len(probes) - len(tools) == len(plan())
    full = {p.name for p in make_plan(baseline, AGENT_OF, budget="full")}
    assert {"payments-cut-at-call-2", "payments-slow-at-call-2", "kill-agent-at-payments-call-2",
            "payments-tool-error-result-at-call-2", "mail-429-at-call-1"} <= full


def test_the_branches_of_an_anthropic_or_gemini_router_are_read_from_the_ledger() -> None:
    from harness.fake_llm import LLMCall
    from harness.validate.baseline import _first_tool_choice

    def call(api: str, request: dict, **noted: object) -> LLMCall:
        return LLMCall(1, 0.0, 0.1, None, None, False, "rrh-0123456789ab", "f", "m", None, 200, "ok", False,
                       request, {}, None, api=api, **noted)  # type: ignore[arg-type]

    anthropic = {"tools": [{"name": "billing", "input_schema": {}}, {"name": "shipping", "input_schema": {}}]}
    assert _first_tool_choice([call("anthropic", anthropic, tools=("billing", "shipping"), tool_called="shipping")]) == {
        "tools": ("billing", "shipping"), "chosen_tool": "shipping"}
    # Without the ledger's note (an older history), OpenAI's shapes only: nothing read from Anthropic's.
    assert _first_tool_choice([call("anthropic", anthropic)]) == {}


def test_answers_that_differ_without_faults_are_not_compared_under_faults() -> None:
    from dataclasses import replace

    unrepeatable = make_plan(replace(BASELINE, repeatable=False), AGENT_OF, budget="quick")
    assert not [c for p in unrepeatable for c in p.checks if isinstance(c, SameAnswerAsBaseline)]
    assert [c.severity for p in plan().values() for c in p.checks if isinstance(c, SameAnswerAsBaseline)]
    assert all(c.severity == "finding" for p in plan().values() for c in p.checks
               if isinstance(c, SameAnswerAsBaseline))

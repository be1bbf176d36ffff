"""The validation plan from a hand-made baseline: every probe's faults heal and liveness is
judged within a bound from the fast Restate settings; the hang and the outage probes carry
their advisories; ``--expect-terminal-within`` adds its check and lengthens the outage."""

from __future__ import annotations

from dataclasses import fields, replace

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
from harness.validate.plan import KILL_LANDS_AFTER_S, QUICK_MAX, Probe, make_plan

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


# --- bad answers: the value faults -------------------------------------------------------------


def _with_calls(*calls: LLMCallPoint) -> Baseline:
    from dataclasses import replace

    return replace(BASELINE, llm_calls=calls)


def test_quick_aims_a_schema_violation_at_the_first_call_asking_for_loose_structured_output() -> None:
    from harness.checker.poisoned import NoPoisonedJournal
    from harness.nemesis.faults import LLMMatch, LLMSchemaViolation
    from harness.nemesis.triggers import LLMCallsArrived

    baseline = _with_calls(LLMCallPoint(1, "Router"), LLMCallPoint(2, "Router", "json_schema"),
                           LLMCallPoint(3, "Router", "json_object"))
    probes = {p.name: p for p in make_plan(baseline, AGENT_OF, budget="quick")}
    values = {name: p for name, p in probes.items() if "schema-violation" in name or "bad-tool-args" in name}
    assert list(values) == ["llm-schema-violation-at-call-2"]
    (fault,) = values["llm-schema-violation-at-call-2"].faults
    # Transient: that call's answer only, every call counted toward the skip.
    assert fault == LLMSchemaViolation(match=LLMMatch(), times=1, skip=1, until=LLMCallsArrived(2))
    # Judged by both oracles: a committed bad answer, or an invocation kept for good. A merely
    # different answer (healed within the conversation) is an advisory.
    checks = {type(c).__name__: c.severity for c in values["llm-schema-violation-at-call-2"].checks}
    assert checks["NoBadAnswerCommitted"] == "finding" and checks["NoPoisonedJournal"] == "finding"
    assert checks["SameAnswerAsBaseline"] == "advisory"
    assert NoPoisonedJournal.bug_class == "poisoned_journal"
    # On top of the quick budget, as the tool probes are: the other probes are all still there.
    assert len(probes) == len(make_plan(_with_calls(*baseline.llm_calls[:1], LLMCallPoint(2, "Router"),
                                                    LLMCallPoint(3, "Router")), AGENT_OF, budget="quick")) + 1


def test_quick_aims_bad_tool_arguments_at_the_first_call_offering_tools_that_are_not_strict() -> None:
    from harness.nemesis.faults import LLMBadToolArgs

    baseline = _with_calls(LLMCallPoint(1, "Router", tools=("lookup",), strict_tools=("lookup",)),
                           LLMCallPoint(2, "Router", tools=("billing", "account"), strict_tools=("billing",)),
                           LLMCallPoint(3, "Router", tools=("billing",)))
    probes = {p.name: p for p in make_plan(baseline, AGENT_OF, budget="quick")}
    assert [n for n in probes if "bad-tool-args" in n or "schema-violation" in n] == ["llm-bad-tool-args-at-call-2"]
    assert isinstance(probes["llm-bad-tool-args-at-call-2"].faults[0], LLMBadToolArgs)
    assert probes["llm-bad-tool-args-at-call-2"].faults[0].skip == 1


def test_quick_aims_no_bad_answer_where_the_provider_enforces_the_schema() -> None:
    # A strict schema is decoded under its grammar by real providers: no answer breaks it.
    strict = _with_calls(LLMCallPoint(1, "Router", "strict_json_schema", ("route",), ("route",)),
                         LLMCallPoint(2, "Router"))
    names = [p.name for p in make_plan(strict, AGENT_OF, budget="quick")]
    assert not [n for n in names if "schema-violation" in n or "bad-tool-args" in n]
    assert names == list(plan())


def test_full_aims_every_bad_answer_where_it_applies_and_a_400_and_401_at_every_call() -> None:
    from harness.nemesis.faults import LLMAuth, LLMContextLength, LLMWrongTool

    baseline = _with_calls(LLMCallPoint(1, "Router", tools=("billing", "account")),
                           LLMCallPoint(2, "Router", "strict_json_schema", stream=True))
    probes = {p.name: p for p in make_plan(baseline, AGENT_OF, budget="full")}
    values = {n for n in probes if n.split("-at-call-")[0] in {
        "llm-truncated", "llm-refusal", "llm-empty", "llm-early-end", "llm-wrong-tool", "llm-bad-tool-args",
        "llm-schema-violation", "llm-context-length", "llm-auth"}}
    assert values == {
        *(f"llm-{k}-at-call-{n}" for n in (1, 2) for k in ("truncated", "refusal", "empty", "context-length", "auth")),
        "llm-early-end-at-call-2",  # only a stream ends early without an error
        "llm-wrong-tool-at-call-1", "llm-bad-tool-args-at-call-1", "llm-schema-violation-at-call-1",
    }
    assert all(probes[n].faults[0].times == 1 and probes[n].faults[0].skip == int(n[-1]) - 1 for n in values)
    assert isinstance(probes["llm-context-length-at-call-2"].faults[0], LLMContextLength)
    assert isinstance(probes["llm-auth-at-call-1"].faults[0], LLMAuth)
    wrong = probes["llm-wrong-tool-at-call-1"].faults[0]
    assert isinstance(wrong, LLMWrongTool) and wrong.match.has_tools is None  # aimed by skip over every call


def test_the_baseline_reads_what_each_call_asked_of_the_model_from_the_ledger() -> None:
    from tests.unit import histories as H

    def structured(data: dict) -> None:  # type: ignore[type-arg]
        first = min(data["llm_calls"], key=lambda c: c["arrived_at"])
        first.update(output_format="json_schema", tools=["billing", "account"], strict_tools=["billing"])

    learned = Baseline.learn(H.variant(H.KILL_ROUTER, structured)).llm_calls
    assert (learned[0].output_format, learned[0].tools, learned[0].strict_tools) == (
        "json_schema", ("billing", "account"), ("billing",))
    assert learned[-1].output_format is None
    point = LLMCallPoint(1, "Router", "json_object", ("a", "b"), ("a",))
    assert point.loose_output and point.loose_tools
    assert not LLMCallPoint(1, "Router", "strict_json_schema", ("a",), ("a",)).loose_output
    assert not LLMCallPoint(1, "Router", "strict_json_schema", ("a",), ("a",)).loose_tools
    assert not LLMCallPoint(1, "Router").loose_output


def test_tool_arguments_handed_over_parsed_can_only_break_the_schema() -> None:
    # Anthropic's `input` and Gemini's `args` arrive as objects: no text to fail to parse.
    from harness.nemesis.faults import LLMSchemaViolation

    anthropic = _with_calls(LLMCallPoint(1, "Router", tools=("billing",), api="anthropic"), LLMCallPoint(2, "Router"))
    quick = {p.name: p for p in make_plan(anthropic, AGENT_OF, budget="quick")}
    assert [n for n in quick if "bad-tool-args" in n or "schema-violation" in n] == ["llm-schema-violation-at-call-1"]
    assert isinstance(quick["llm-schema-violation-at-call-1"].faults[0], LLMSchemaViolation)
    full = [p.name for p in make_plan(anthropic, AGENT_OF, budget="full")]
    assert "llm-bad-tool-args-at-call-1" not in full and "llm-schema-violation-at-call-1" in full
    assert len(full) == len(set(full))
    # Structured output and tools on one call: one schema violation, not two runs of the same.
    both = _with_calls(LLMCallPoint(1, "Router", "json_object", ("billing",), api="gemini"))
    names = [p.name for p in make_plan(both, AGENT_OF, budget="quick")]
    assert names.count("llm-schema-violation-at-call-1") == 1


def test_a_probe_is_a_scenario_of_the_baselines_workload_with_its_own_requests_and_replay() -> None:
    from harness.env.environment import AgentSpec
    from harness.workload import Requests

    agents = (AgentSpec("agent", ("serve", "{port}")),)
    workload = Requests("Router", "answer", "q {token}", n=1)
    probes = plan()
    replayed = probes["always-replay"].to_scenario(agents, workload)
    assert isinstance(replayed, Scenario) and replayed.always_replay and replayed.tags == ("validate",)
    assert (replayed.name, replayed.agents, replayed.workload.n) == ("always-replay", agents, probes["always-replay"].requests)
    assert (replayed.workload.service, replayed.workload.handler) == ("Router", "answer")
    kill = next(p for name, p in probes.items() if name.startswith("kill-agent-at-llm-call"))
    scenario = kill.to_scenario(agents, workload)
    assert not scenario.always_replay and scenario.faults == kill.faults and scenario.checks == kill.checks
    assert (scenario.deadline_s, scenario.trigger_timeout_s) == (kill.deadline_s, kill.trigger_timeout_s)


def test_quick_spends_no_run_on_a_kill_after_a_step_the_request_ends_milliseconds_after() -> None:
    """With no LLM call after it to hold, a kill fired by the journal's poll lands after the
    request already ended (4 ms after its last step, seen in the docs-style agent): always
    ``unknown``. Full keeps it; a step the request runs on after, or one followed by a call,
    stays in quick."""
    ends_at_once = replace(BASELINE, call_after_step=(2, None), end_after_step_s=(0.3, 0.004))
    quick = {p.name for p in make_plan(ends_at_once, AGENT_OF, budget="quick")}
    full = {p.name for p in make_plan(ends_at_once, AGENT_OF, budget="full")}
    assert "kill-agent-after-step-1" in quick and "kill-agent-after-step-2" not in quick
    assert {"kill-agent-after-step-1", "kill-agent-after-step-2"} <= full
    runs_on = replace(ends_at_once, end_after_step_s=(0.3, KILL_LANDS_AFTER_S))
    assert "kill-agent-after-step-2" in {p.name for p in make_plan(runs_on, AGENT_OF, budget="quick")}


def test_the_baseline_learns_how_long_the_request_ran_on_after_each_step() -> None:
    from tests.unit import histories as H

    history = H.load(H.KILL_ROUTER)
    learned = Baseline.learn(history)
    assert len(learned.end_after_step_s) == len(learned.steps) > 0
    root = history.invocation[history.requests[0].invocation_id]
    last = max(s.completed_at or 0.0 for s in history.steps if s.completed)
    assert learned.end_after_step_s[-1] == pytest.approx((root.completed_at or 0.0) - last)
    assert list(learned.end_after_step_s) == sorted(learned.end_after_step_s, reverse=True)

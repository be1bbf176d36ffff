"""The plan: from what the baseline showed, every run validation makes. Crash points are
enumerated, not hand-picked: a SIGKILL while each LLM call is held, and right after each
journaled step, of the deployment that owns it; then always-replay, transient LLM errors
aimed at each call in turn, bad answers (a schema violation, tool arguments that do not
parse) where the baseline's requests leave room for them, an LLM outage that ends, a hang,
restate-server killed, and a Restate->agent partition. Every fault heals, and then every
invocation must finish within a bound derived from the run's Restate settings: liveness is
judged after healing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from harness.checker.check import Check
from harness.checker.checks import (
    FinishedDespiteTransientFaults,
    NoBadAnswerCommitted,
    NoDuplicateChildWork,
    NoDuplicateLLMCalls,
    NoDuplicateSideEffects,
    NoJournalMismatch,
    SameAnswerAsBaseline,
)
from harness.checker.liveness import HangEnded, RecoversAfterHealing, recovery_bound
from harness.checker.poisoned import NoPoisonedJournal
from harness.checker.retries import CallsPerAttempt, RetriesBounded, TerminalWithin
from harness.env.environment import AgentSpec
from harness.fake_llm import FakeLLM
from harness.fake_llm.rules import Auto, Rule
from harness.nemesis.faults import (
    Fault,
    Kill,
    LLMAuth,
    LLMBadToolArgs,
    LLMContextLength,
    LLMEmpty,
    LLMHang,
    LLMMatch,
    LLMRateLimited,
    LLMRefusal,
    LLMSchemaViolation,
    LLMServerError,
    LLMStreamCut,
    LLMStreamEarlyEnd,
    LLMTruncated,
    LLMWrongTool,
    VALUE_FAULTS,
    Partition,
    Pause,
    Restart,
    Terminate,
    ToolCut,
    ToolError,
    ToolHang,
    ToolHold,
    ToolSlow,
)
from harness.nemesis.schedule import random_schedule
from harness.nemesis.triggers import (
    After,
    AllOf,
    LLMCallHeld,
    LLMCallsArrived,
    StepsCompleted,
    ToolCallHeld,
    ToolCallsArrived,
    Trigger,
)
from harness.restate_settings import FAST
from harness.runner.scenario import Scenario
from harness.validate.baseline import Baseline, LLMCallPoint
from harness.workload import Requests

QUICK_MAX = 15
# Under always-replay a handler suspends only when an await races Restate's acknowledgement;
# several requests at once make every branch replay (one alone often runs straight through).
# A choice that differs on replay half the time (random.choice between two) went unseen by
# 6 requests in 1 of 64 validations (a CI run saw it); 12 leave it unseen in 1 of 4,096.
REPLAYED_REQUESTS = 12


@dataclass(frozen=True)
class Probe:
    """One run of the plan: what it does to the agent and which oracles judge it. A probe
    is a scenario the validator derives from the baseline, before it knows the agent's
    workload: the fake LLM answers in auto mode (``script``), and ``to_scenario`` makes it
    a ``Scenario`` for the agent under test."""

    name: str
    description: str
    faults: tuple[Fault, ...] = ()
    hold_call: int | None = None  # the LLM call (1-based) held until the fault is applied
    always_replay: bool = False
    prefer_tool: str | None = None  # the fake LLM calls this tool whenever offered: another branch
    requests: int = 1  # concurrent requests: replays race, so several make a miss unlikely
    spread_s: float = 0.0  # the requests are sent evenly over this long (0: at once)
    deadline_s: float = 20.0
    needs_processes: bool = False  # kills a deployment: impossible for one someone else runs
    trigger_timeout_s: float = 20.0  # how long a fault's trigger (or its heal) may take to fire
    checks: tuple[Check, ...] = field(default=(), compare=False)

    @property
    def killed_agents(self) -> set[str]:
        """The deployments this probe signals (not restate-server, not a link)."""
        return {f.target for f in self.faults if isinstance(f, (Kill, Terminate, Pause, Restart))
                and f.target not in ("restate", "llm")}

    def script(self) -> Callable[[FakeLLM], None]:
        """The fake LLM unscripted (auto), with call ``hold_call`` held for the trigger."""
        return _Script(self.hold_call, self.prefer_tool)

    def to_scenario(self, agents: tuple[AgentSpec, ...], workload: Requests) -> Scenario:
        """This probe as a scenario against ``agents``: the baseline's ``workload`` with the
        probe's request count and spread."""
        return Scenario(
            name=self.name, description=self.description, agents=agents, script=self.script(),
            workload=replace(workload, n=self.requests, spread_s=self.spread_s), faults=self.faults,
            checks=self.checks, tags=("validate",), deadline_s=self.deadline_s,
            trigger_timeout_s=self.trigger_timeout_s, always_replay=self.always_replay,
        )


@dataclass(frozen=True)
class _Script:
    hold_call: int | None
    prefer_tool: str | None = None

    def __call__(self, llm: FakeLLM) -> None:
        if self.hold_call is not None:
            llm.add_rule(Rule(Auto(prefer=self.prefer_tool), hold=True, times=1, skip=self.hold_call - 1))
        llm.on().auto(prefer=self.prefer_tool)


# The random schedule's faults start within 1.3 s each of the run's start: its requests are
# spread over that horizon, so that the faults meet requests in flight.
RANDOM_FAULTS = 3
# How long the LLM is down in the outage probe: long enough for a few Restate attempts
# (the openai SDK's own retries take 1.5 s of each), short enough for the quick budget.
OUTAGE_S = 6.0


def make_plan(baseline: Baseline, agent_of: dict[str, str], *, budget: str, seed: int = 1,
              expect_terminal_within_s: float | None = None) -> list[Probe]:
    """``agent_of`` maps a service to the deployment (agent name) that serves it.
    ``expect_terminal_within_s``: the user expects a terminal failure that soon once the
    LLM is down for good (opt-in; by default retrying until it is back is fine)."""
    # Every probe's faults heal; then each invocation has this long to reach an outcome (our
    # own restate-server runs with the fast settings; the check reads the run's own).
    deadline = recovery_bound(FAST, baseline.duration_s)
    oracles = _oracles(baseline)
    calls = list(baseline.llm_calls)
    entry_agent = agent_of.get(baseline.services[0]) if baseline.services else None
    quick = budget == "quick"
    probes = crash_point_probes(baseline, agent_of, entry_agent or "", oracles, quick=quick, deadline_s=deadline)
    crash_points = len(probes)
    probes += tool_probes(baseline, entry_agent or "", oracles, quick=quick, deadline_s=deadline)
    tools_added = len(probes) - crash_points
    probes += replay_probes(baseline, oracles, quick=quick, deadline_s=deadline)
    for kind, call in _aimed_errors(calls, quick):
        healed = LLMCallsArrived(call.number)  # the aimed call has had its error
        fault: Fault = (LLMRateLimited(times=1, skip=call.number - 1, retry_after_s=0.5, until=healed) if kind == "429"
                        else LLMServerError(times=1, skip=call.number - 1, until=healed))
        probes.append(Probe(f"llm-{kind}-at-call-{call.number}", f"a transient {kind} on LLM call {call.number}",
                            (fault,), deadline_s=deadline, checks=oracles))
    # A bad answer an agent heals within its conversation (asking the model again, as
    # frameworks do) changes the fake's final answer, which depends on the whole
    # conversation: a different answer is an advisory there; committing the bad answer (or
    # nothing) is the finding.
    value_oracles = tuple(replace(o, severity="advisory") if isinstance(o, SameAnswerAsBaseline) else o
                          for o in oracles)
    if baseline.repeatable:
        value_oracles += (NoBadAnswerCommitted(baseline=baseline.output),)
    values = value_probes(calls, value_oracles, quick=quick, deadline_s=deadline)
    probes += values
    if calls:
        last_agent = agent_of.get(calls[-1].service or "", entry_agent or "")
        probes += dependency_probes(baseline, last_agent, oracles, deadline_s=deadline,
                                    expect_terminal_within_s=expect_terminal_within_s)
    probes.append(_random_probe(baseline, agent_of, seed, oracles, value_oracles, quick=quick, deadline_s=deadline))
    if not quick:
        for call in calls:
            probes.append(Probe(f"llm-stream-cut-at-call-{call.number}", f"LLM call {call.number} is cut midway",
                                (LLMStreamCut(times=1, skip=call.number - 1, until=LLMCallsArrived(call.number)),),
                                deadline_s=deadline, checks=oracles))
    return probes[:QUICK_MAX + tools_added + len(values)] if quick else probes


def _oracles(baseline: Baseline) -> tuple[Check, ...]:
    """What judges most probes: nothing lost or done twice, no journal mismatch, the
    baseline's answer (when two fault-free requests agree on it), no poisoned journal."""
    return (
        RecoversAfterHealing(baseline_s=baseline.duration_s), NoJournalMismatch(), NoDuplicateLLMCalls(),
        NoDuplicateSideEffects(required=False), NoDuplicateChildWork(baseline.children),
        *((SameAnswerAsBaseline(baseline.output),) if baseline.repeatable else ()),
        FinishedDespiteTransientFaults(severity="advisory"), NoPoisonedJournal(),
    )


def crash_point_probes(baseline: Baseline, agent_of: dict[str, str], entry_agent: str, oracles: tuple[Check, ...],
                       *, quick: bool, deadline_s: float) -> list[Probe]:
    """A SIGKILL of the deployment that owns it while each LLM call is held, and right after
    each journaled step (quick: at most 4 calls and 3 steps, first and last included, among
    the steps a kill can land after: see ``_kill_lands_after``)."""
    calls, steps = list(baseline.llm_calls), list(enumerate(baseline.steps, 1))
    if quick:
        steps = [(n, step) for n, step in steps if _kill_lands_after(baseline, n)]
    probes = []
    for call in _spread(calls, 4) if quick else calls:
        agent = agent_of.get(call.service or "", entry_agent)
        probes.append(Probe(
            f"kill-{agent}-at-llm-call-{call.number}",
            f"SIGKILL {agent} while LLM call {call.number} is held, then restart it",
            (Kill(agent, when=LLMCallHeld(call.number)),), hold_call=call.number,
            needs_processes=True, deadline_s=deadline_s, checks=oracles,
        ))
    for n, (service, step) in _spread(steps, 3) if quick else steps:
        agent = agent_of.get(service, entry_agent)
        # The next LLM call is held until the kill, so the request cannot finish before it lands;
        # the kill waits for that call too, so no hold is left to catch a call after the restart.
        held = baseline.call_after_step[n - 1] if n <= len(baseline.call_after_step) else None
        when: Trigger = StepsCompleted(n) if held is None else AllOf((StepsCompleted(n), LLMCallHeld(held)))
        probes.append(Probe(
            f"kill-{agent}-after-step-{n}",
            f"SIGKILL {agent} right after step {n} ('{step}') is journaled, then restart it",
            (Kill(agent, when=when),), hold_call=held, needs_processes=True, deadline_s=deadline_s, checks=oracles,
        ))
    return probes


def replay_probes(baseline: Baseline, oracles: tuple[Check, ...], *, quick: bool, deadline_s: float) -> list[Probe]:
    """The baseline under always-replay; then the other branches a router can take (quick:
    two), replayed at every await, where duplicates and non-determinism show. Their answers
    differ from the baseline's by design."""
    probes = [Probe("always-replay", "the baseline with Restate's inactivity timeout at 0: every await suspends "
                    "and every resumption replays the journal", always_replay=True, requests=REPLAYED_REQUESTS,
                    deadline_s=deadline_s, checks=oracles)]
    branch_oracles = tuple(o for o in oracles if not isinstance(o, (SameAnswerAsBaseline, NoDuplicateChildWork)))
    for tool in [t for t in baseline.tools if t != baseline.chosen_tool][: 2 if quick else None]:
        probes.append(Probe(f"always-replay-via-{tool}", f"always-replay, the LLM calling tool {tool} (another branch)",
                            always_replay=True, prefer_tool=tool, requests=REPLAYED_REQUESTS, deadline_s=deadline_s,
                            checks=branch_oracles))
    return probes


def dependency_probes(baseline: Baseline, last_agent: str, oracles: tuple[Check, ...], *, deadline_s: float,
                      expect_terminal_within_s: float | None) -> list[Probe]:
    """The LLM down for a while then back, the LLM hanging, restate-server killed, and the
    Restate->agent link cut while the last LLM call is held (``last_agent`` owns it)."""
    recovers = RecoversAfterHealing(baseline_s=baseline.duration_s)
    outage = OUTAGE_S if expect_terminal_within_s is None else expect_terminal_within_s + 5.0
    retry_checks: tuple[Check, ...] = (
        CallsPerAttempt(at_most=10), CallsPerAttempt(at_most=1, severity="advisory"),
        RetriesBounded(severity="advisory"),
        *((TerminalWithin(seconds=expect_terminal_within_s),) if expect_terminal_within_s is not None else ()),
    )
    last = baseline.llm_calls[-1]
    return [
        Probe("llm-down-then-back", f"every LLM call fails (503) for {outage:g} s, then the LLM is back: "
              "how the agent retries while it is down, and that it finishes once it is back",
              (LLMServerError(times=None, until=After(outage)),), deadline_s=deadline_s,
              trigger_timeout_s=outage + 20.0,
              checks=(recovers, NoJournalMismatch(), NoDuplicateSideEffects(required=False), *retry_checks)),
        Probe("llm-hang", "the first LLM call never answers: the agent's client timeout or Restate's "
              "abort must end it, and the request finish (Restate's timeouts are short here; the "
              "advisory says what production's would mean)",
              (LLMHang(times=1, until=LLMCallsArrived(1)),), deadline_s=deadline_s,
              checks=(*oracles, HangEnded(severity="advisory"))),
        Probe("kill-restate-server", "SIGKILL restate-server while LLM call 1 is held, restart it on "
              "the same data dir", (Kill("restate", when=LLMCallHeld(1), until=After(0.5)),),
              hold_call=1, deadline_s=deadline_s, checks=oracles),
        Probe(f"partition-restate-to-{last_agent}", f"cut the Restate->{last_agent} link for 1 s while LLM call "
              f"{last.number} is held", (Partition(f"restate->{last_agent}", when=LLMCallHeld(last.number),
                                                   until=After(1.0)),),
              hold_call=last.number, deadline_s=deadline_s, checks=oracles),
    ]


def _random_probe(baseline: Baseline, agent_of: dict[str, str], seed: int, oracles: tuple[Check, ...],
                  value_oracles: tuple[Check, ...], *, quick: bool, deadline_s: float) -> Probe:
    """A seeded random schedule over the deployments, their links and the LLM, like the
    catalogue's: faults in combinations nobody enumerated. The full budget's schedule may
    give bad answers too; the quick one keeps to the faults every agent must ride out."""
    agents = sorted({agent_of[s] for s in baseline.services if s in agent_of})
    schedule = random_schedule(seed, processes=[*agents, "restate"], links=[f"restate->{a}" for a in agents],
                               faults=RANDOM_FAULTS, max_window_s=1.0, bad_answers=not quick)
    spoils = any(isinstance(fault, VALUE_FAULTS) for fault in schedule)
    return Probe(f"random-schedule-seed-{seed}", f"a seeded random schedule of process, link and LLM faults (seed {seed})",
                 schedule, needs_processes=True, requests=4, spread_s=RANDOM_FAULTS * 1.3, deadline_s=deadline_s,
                 checks=value_oracles if spoils else oracles)


# The bad answers a real model gives, by the probe name's word: each a 200 whose value is
# wrong. Schema violations and unparsable tool arguments are aimed only where the provider
# does not enforce the schema: a strict one (`strict: true`, OpenAI's structured outputs,
# Anthropic's strict tools) is decoded under the schema's grammar, so a real provider never
# answers it with JSON that breaks it, and such a fault would blame the agent for an answer
# it cannot get.
_EVERY_CALL: tuple[tuple[str, type[Fault], str], ...] = (
    ("truncated", LLMTruncated, "an answer cut at the token limit (finish_reason length)"),
    ("refusal", LLMRefusal, "a refusal instead of an answer"),
    ("empty", LLMEmpty, "an empty answer"),
)


def value_probes(calls: list[LLMCallPoint], oracles: tuple[Check, ...], *, quick: bool,
                 deadline_s: float) -> list[Probe]:
    """Bad answers, each transient (the aimed call's only: the fault heals once it arrived).
    Quick: what the baseline makes relevant, once each: structured output that is not strict
    gets a schema violation at the first call asking for it; tools that are not strict get
    arguments that do not parse at the first call offering them (arguments that break the
    tool's schema, where the provider hands them over parsed: Anthropic, Gemini). Full: every kind at every
    call where it applies, and a context-length 400 and an auth 401 at every call.

    Judged by ``oracles``: a committed bad answer (or an empty one) is degraded_answer; an
    invocation the journaled bad answer keeps from finishing is poisoned_journal."""
    aimed: list[tuple[str, Fault, str, LLMCallPoint]] = []

    def aim(word: str, fault: type[Fault], what: str, call: LLMCallPoint) -> None:
        # match=LLMMatch(): every call counts toward ``skip`` (the wrong-tool fault's own
        # default matches only calls that offer tools).
        if any(w == word and c == call for w, _, _, c in aimed):
            return  # one schema violation per call, whether its output or its tools asked for it
        until = LLMCallsArrived(call.number)
        aimed.append((word, fault(match=LLMMatch(), times=1, skip=call.number - 1, until=until),  # type: ignore[call-arg]
                      what, call))

    if quick:
        structured = next((c for c in calls if c.loose_output), None)
        if structured is not None:
            aim("schema-violation", LLMSchemaViolation, "JSON that breaks the requested output schema (not strict)",
                structured)
        tooled = next((c for c in calls if c.loose_tools), None)
        if tooled is not None and tooled.arguments_as_text:
            aim("bad-tool-args", LLMBadToolArgs, "a tool call whose arguments are not JSON (tools not strict)", tooled)
        elif tooled is not None:  # arguments come parsed (Anthropic, Gemini): they can only break the schema
            aim("schema-violation", LLMSchemaViolation, "tool arguments that break the tool's schema (not strict)",
                tooled)
    else:
        for call in calls:
            for word, kind, what in _EVERY_CALL:
                aim(word, kind, what, call)
            if call.stream:  # a whole answer's end is its body's: only a stream stops early without an error
                aim("early-end", LLMStreamEarlyEnd, "a stream that stops halfway with no finish and no error", call)
            if call.tools:
                aim("wrong-tool", LLMWrongTool, "a call to a tool that was not offered", call)
            if call.loose_tools and call.arguments_as_text:
                aim("bad-tool-args", LLMBadToolArgs, "a tool call whose arguments are not JSON", call)
            if call.loose_output or call.loose_tools:
                aim("schema-violation", LLMSchemaViolation, "valid JSON that breaks the output's or a tool's schema", call)
            aim("context-length", LLMContextLength, "a 400: the prompt exceeds the model's context", call)
            aim("auth", LLMAuth, "a 401: the key is refused", call)
    return [Probe(f"llm-{word}-at-call-{call.number}", f"a transient bad answer on LLM call {call.number}: {what}"
                  if word not in ("context-length", "auth") else f"a transient error on LLM call {call.number}: {what}",
                  (fault,), deadline_s=deadline_s, checks=oracles)
            for word, fault, what, call in aimed]


def tool_probes(baseline: Baseline, agent: str, oracles: tuple[Check, ...], *, quick: bool,
                deadline_s: float) -> list[Probe]:
    """Every tool call is a crash point and a place for a fault, as LLM calls are: a SIGKILL
    of the deployment while the call is held, a transient error, a hang that only a timeout
    ends; and, in the full budget, a cut connection after the tool acted and a slow answer.
    Quick: the first call of each service (at most two services).

    The calling deployment is taken to be the entry's: a stub's ledger does not say which
    deployment called it."""
    firsts = {}
    for point in baseline.tool_calls:
        firsts.setdefault(point.stub, point)
    points = list(firsts.values())[:2] if quick else list(baseline.tool_calls)
    # A tool's error may reach the model as the tool's output (frameworks do that by default),
    # and the model then answers differently: worth knowing, not work lost or done twice.
    tolerant = tuple(replace(o, severity="advisory") if isinstance(o, (SameAnswerAsBaseline,)) else o
                     for o in oracles)
    probes = []
    for point in points:
        stub, k, where = point.stub, point.number, f"{point.stub} call {point.number} ({point.tool})"
        probes.append(Probe(
            f"kill-{agent}-at-{stub}-call-{k}", f"SIGKILL {agent} while {where} is held, then restart it",
            (ToolHold(stub, skip=k - 1, until=ToolCallHeld(stub, k)), Kill(agent, when=ToolCallHeld(stub, k))),
            needs_processes=True, deadline_s=deadline_s, checks=oracles))
        arrived = ToolCallsArrived(stub, k)
        probes.append(Probe(f"{stub}-error-at-call-{k}", f"a transient error (503; over MCP a JSON-RPC error) on {where}",
                            (ToolError(stub, skip=k - 1, status=503, mcp_error="jsonrpc", until=arrived),),
                            deadline_s=deadline_s, checks=tolerant))
        probes.append(Probe(f"{stub}-hang-at-call-{k}", f"{where} never answers: a timeout (the agent's, or "
                            "Restate's abort) must end it, and the request finish", (ToolHang(stub, skip=k - 1, until=arrived),),
                            deadline_s=deadline_s, checks=oracles))
        if not quick:
            # The other transient error each protocol has: a 429 over HTTP, a tool's own error result over MCP.
            other = ("tool-error-result", "a tool error result (isError)") if point.protocol == "mcp" else (
                "429", "a 429 with Retry-After")
            probes.append(Probe(f"{stub}-{other[0]}-at-call-{k}", f"{other[1]} on {where}",
                                (ToolError(stub, skip=k - 1, status=429, retry_after_s=0.5, mcp_error="result",
                                           until=arrived),), deadline_s=deadline_s, checks=tolerant))
            probes.append(Probe(f"{stub}-cut-at-call-{k}", f"{where} acts, then its connection drops before the answer",
                                (ToolCut(stub, skip=k - 1, until=arrived),), deadline_s=deadline_s, checks=tolerant))
            probes.append(Probe(f"{stub}-slow-at-call-{k}", f"{where} answers after 2 s",
                                (ToolSlow(stub, skip=k - 1, delay_s=2.0, until=arrived),), deadline_s=deadline_s,
                                checks=oracles))
    return probes


def _aimed_errors(calls: list[LLMCallPoint], quick: bool) -> list[tuple[str, LLMCallPoint]]:
    """Transient errors aimed at LLM calls: quick, a 429 at the first call and a 5xx at the
    second (or the first, if it is the only one); full, both at every call."""
    if not quick:
        return [(kind, call) for call in calls for kind in ("429", "5xx")]
    return [("429", c) for c in calls[:1]] + [("5xx", c) for c in (calls[1:2] or calls[:1])]


# A kill fired by the journal's poll lands about 30 ms after the step (seen on this machine,
# more under load); a request that ends sooner than this after its step is already done.
KILL_LANDS_AFTER_S = 0.5


def _kill_lands_after(baseline: Baseline, n: int) -> bool:
    """Can a kill "right after step n" land before the request ends? Yes when an LLM call
    follows the step (it is held until the kill), or when the baseline's request ran on
    long enough after it. Otherwise the run is ``unknown`` every time: quick spends no run
    on it (full still does)."""
    if n <= len(baseline.call_after_step) and baseline.call_after_step[n - 1] is not None:
        return True
    return n > len(baseline.end_after_step_s) or baseline.end_after_step_s[n - 1] >= KILL_LANDS_AFTER_S


def _spread(items: list, n: int) -> list:  # type: ignore[type-arg]
    """At most ``n`` of ``items``, first and last included, evenly spread."""
    if len(items) <= n:
        return items
    step = (len(items) - 1) / (n - 1)
    return [items[round(i * step)] for i in range(n)]

"""Scenarios for the local router (``AgentRouter.answer``): one service, two LLM calls
(routing, then the specialist), each a journaled step. LLM call 1 is routing and call 2
the specialist's answer."""

from __future__ import annotations

from harness.checker.checks import NoAcknowledgedRequestLost, RetriesPlausible, SlowedDown, Wasted
from harness.nemesis.faults import Kill, Latency, Pause, Terminate
from harness.nemesis.triggers import After, LLMCallHeld, RetryObserved, StepCompleted
from harness.runner.scenario import Scenario, standard_checks
from harness.workload import Requests

from .agents import LOCAL_ROUTER
from .llm_scripts import BILLING_ANSWER, BILLING_QUESTION, billing_conversation

ASK = Requests("AgentRouter", "answer", BILLING_QUESTION, n=1)
CHECKS = standard_checks(BILLING_ANSWER)

BASELINE = Scenario(
    name="baseline",
    description="No fault: two LLM calls, both committed, nothing wasted.",
    agents=(LOCAL_ROUTER,),
    script=billing_conversation(),
    workload=ASK,
    checks=(*CHECKS, Wasted(exactly=0), RetriesPlausible(at_most=0)),
    tags=("local", "baseline"),
)

KILL_DURING_SPECIALIST_CALL = Scenario(
    name="kill-router-during-specialist-call",
    description="SIGKILL the router while the specialist's LLM answer is held, restart it. "
    "The routing decision is replayed from the journal; only the specialist call is retried.",
    agents=(LOCAL_ROUTER,),
    script=billing_conversation(hold_answer=True),
    workload=ASK,
    faults=(Kill("router", when=LLMCallHeld(2)),),
    checks=(*CHECKS, Wasted(exactly=1), RetriesPlausible(at_least=1)),
    tags=("local", "process", "kill"),
)

KILL_AFTER_ROUTING_JOURNALED = Scenario(
    name="kill-router-after-routing-journaled",
    description="SIGKILL the router as soon as sys_journal shows the routing step completed. "
    "Routing must not be asked again; the specialist call may have started (at most 1 wasted).",
    agents=(LOCAL_ROUTER,),
    script=billing_conversation(hold_answer=True),
    workload=ASK,
    faults=(Kill("router", when=StepCompleted("route")),),
    checks=(*CHECKS, Wasted(at_most=1), RetriesPlausible(at_least=1)),
    tags=("local", "process", "kill"),
)

TERMINATE_AND_RESTART = Scenario(
    name="terminate-router-and-restart",
    description="SIGTERM the router during the specialist call (escalating to SIGKILL after a "
    "grace period, since a Python Restate app ignores SIGTERM), then restart it.",
    agents=(LOCAL_ROUTER,),
    script=billing_conversation(hold_answer=True),
    workload=ASK,
    faults=(Terminate("router", when=LLMCallHeld(2), grace_s=1.0),),
    checks=(*CHECKS, Wasted(exactly=1), RetriesPlausible(at_least=1)),
    tags=("local", "process", "terminate"),
)

PAUSE_BEYOND_INACTIVITY_TIMEOUT = Scenario(
    name="pause-router-beyond-inactivity-timeout",
    description="SIGSTOP the router during the specialist call and keep it stopped until Restate "
    "has given up on the attempt (inactivity + abort timeout), then SIGCONT. The answer delivered "
    "to the paused process is never journaled: exactly one wasted call.",
    agents=(LOCAL_ROUTER,),
    script=billing_conversation(hold_answer=True),
    workload=ASK,
    faults=(Pause("router", when=LLMCallHeld(2), until=RetryObserved()),),
    checks=(*CHECKS, Wasted(exactly=1), RetriesPlausible(at_least=1)),
    tags=("local", "process", "pause"),
)

KILL_RESTATE_SERVER = Scenario(
    name="kill-restate-server-mid-invocation",
    description="SIGKILL restate-server while the specialist call is held, release the answer "
    "into the void, restart the server on the same data dir. The journal survives; the "
    "specialist call is retried once.",
    agents=(LOCAL_ROUTER,),
    script=billing_conversation(hold_answer=True),
    workload=ASK,
    faults=(Kill("restate", when=LLMCallHeld(2), until=After(0.5)),),
    checks=(*CHECKS, NoAcknowledgedRequestLost(), Wasted(exactly=1)),
    tags=("local", "server", "kill"),
)

LLM_LINK_LATENCY = Scenario(
    name="latency-on-llm-link",
    description="500 ms (±50 ms) latency on router->LLM for the whole run: slower, but nothing "
    "retried and nothing wasted.",
    agents=(LOCAL_ROUTER,),
    script=billing_conversation(),
    workload=ASK,
    faults=(Latency("router->llm", latency_ms=500, jitter_ms=50),),
    # Two LLM calls, each delayed ≥ 450 ms on the way back.
    checks=(*CHECKS, Wasted(exactly=0), RetriesPlausible(at_most=0), SlowedDown(0.9)),
    tags=("local", "link", "latency"),
)

SCENARIOS = (
    BASELINE,
    KILL_DURING_SPECIALIST_CALL,
    KILL_AFTER_ROUTING_JOURNALED,
    TERMINATE_AND_RESTART,
    PAUSE_BEYOND_INACTIVITY_TIMEOUT,
    KILL_RESTATE_SERVER,
    LLM_LINK_LATENCY,
)

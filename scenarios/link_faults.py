"""The rest of the link catalogue on the local router: every Toxiproxy toxic, on the
client→ingress, Restate→agent and agent→LLM links, upstream and downstream, plus a
graceful restart. LLM call 2 is the specialist's answer."""

from __future__ import annotations

from harness.checker.checks import (
    OneInvocationPerRequest,
    RetriesPlausible,
    SlowedDown,
    Wasted,
)
from harness.nemesis.faults import (
    Bandwidth,
    Latency,
    LimitData,
    Restart,
    Slicer,
    Timeout,
)
from harness.nemesis.triggers import After, LLMCallHeld
from harness.runner.scenario import Scenario, standard_checks

from .agents import LOCAL_ROUTER
from .llm_scripts import BILLING_ANSWER, billing_conversation
from .local_router import ASK

CHECKS = (*standard_checks(BILLING_ANSWER), OneInvocationPerRequest())


def local(name: str, description: str, *, faults: tuple, checks: tuple, tags: tuple, hold: bool = False) -> Scenario:  # type: ignore[type-arg]
    return Scenario(
        name=name,
        description=description,
        agents=(LOCAL_ROUTER,),
        script=billing_conversation(hold_answer=hold),
        workload=ASK,
        faults=faults,
        checks=(*CHECKS, *checks),
        tags=("local", *tags),
    )


SCENARIOS = (
    local(
        "restart-router-gracefully",
        "A graceful restart of the router (SIGTERM, escalating after 1 s) during the specialist call: "
        "the step is retried once.",
        hold=True, faults=(Restart("router", when=LLMCallHeld(2), grace_s=1.0),),
        checks=(Wasted(exactly=1), RetriesPlausible(at_least=1)), tags=("process", "restart"),
    ),
    local(
        "timeout-on-llm-link",
        "Data stops on router→LLM while the specialist's answer is held (Toxiproxy 'timeout'), healed "
        "after 2.5 s: the client times out (2 s) and the step is retried; a retry inside the window "
        "may time out too.",
        hold=True, faults=(Timeout("router->llm", when=LLMCallHeld(2), until=After(2.5)),),
        checks=(Wasted(at_least=1, at_most=2),), tags=("link", "timeout"),
    ),
    local(
        "slicer-on-llm-link",
        "The LLM's answers arrive sliced into ~16-byte packets 2 ms apart: slower, nothing wasted.",
        faults=(Slicer("router->llm"),), checks=(Wasted(exactly=0),), tags=("link", "slicer"),
    ),
    local(
        "bandwidth-on-restate-link",
        "Restate→router limited to 2 KB/s both ways: slower journaling, nothing wasted.",
        faults=(Bandwidth("restate->router", rate_kb_s=2), Bandwidth("restate->router", rate_kb_s=2, stream="upstream")),
        checks=(Wasted(exactly=0), SlowedDown(0.3)), tags=("link", "bandwidth"),
    ),
    local(
        "limit-data-on-ingress-link",
        "The client→ingress link closes after 100 bytes for the first 1.5 s: the request is resent "
        "with the same idempotency key, and Restate creates exactly one invocation.",
        faults=(LimitData("client->restate", stream="upstream", bytes=100, until=After(1.5)),),
        checks=(Wasted(exactly=0), SlowedDown(1.0)), tags=("link", "limit_data", "ingress"),
    ),
    local(
        "latency-on-ingress-link",
        "400 ms latency on client→ingress both ways: the request and its acceptance are slow, the run is not.",
        faults=(Latency("client->restate", latency_ms=400), Latency("client->restate", latency_ms=400, stream="upstream")),
        checks=(Wasted(exactly=0), RetriesPlausible(at_most=0)), tags=("link", "latency", "ingress"),
    ),
)

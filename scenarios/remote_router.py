"""Scenarios for the remote router (``RemoteAgentRouter.answer``): the routing decision
is a journaled LLM step in the router, and the specialist is its own service and process
(``billing`` here), called through Restate. LLM call 1 is routing (in the router), call 2
the billing agent's answer."""

from __future__ import annotations

from harness.checker.checks import (
    CallTree,
    NoAcknowledgedRequestLost,
    NoDuplicateSideEffects,
    RetriesPlausible,
    SlowedDown,
    Wasted,
)
from harness.nemesis.faults import Kill, Latency, Partition, ResetPeer
from harness.nemesis.triggers import After, LLMCallHeld
from harness.runner.scenario import Scenario, standard_checks
from harness.workload import Requests

from .agents import REMOTE_AGENTS
from .llm_scripts import (
    BILLING_ANSWER,
    BILLING_QUESTION,
    PRODUCT_ANSWER,
    PRODUCT_QUESTION,
    billing_conversation,
    product_conversation,
)


def remote(name: str, description: str, *, hold: bool, faults: tuple, checks: tuple, tags: tuple,  # type: ignore[type-arg]
           product: bool = False) -> Scenario:
    """A remote-routing scenario; ``product`` routes to the TypeScript ProductAgent instead of billing."""
    question, answer = (PRODUCT_QUESTION, PRODUCT_ANSWER) if product else (BILLING_QUESTION, BILLING_ANSWER)
    script = (product_conversation if product else billing_conversation)(hold_answer=hold)
    return Scenario(
        name=name,
        description=description,
        agents=REMOTE_AGENTS,
        script=script,
        workload=Requests("RemoteAgentRouter", "answer", question, n=1),
        faults=faults,
        # Billing issues a refund: the side effect must happen once per request too.
        checks=(*standard_checks(answer), CallTree(), *(() if product else (NoDuplicateSideEffects(),)), *checks),
        tags=("remote", *tags),
    )


SCENARIOS = (
    remote(
        "remote-baseline",
        "No fault: the router routes to BillingAgent through Restate; one callee, two LLM calls.",
        hold=False, faults=(), checks=(Wasted(exactly=0), RetriesPlausible(at_most=0)), tags=("baseline",),
    ),
    remote(
        "kill-remote-agent-mid-call",
        "SIGKILL the billing agent while its LLM answer is held, restart it: the callee retries its "
        "step, the router is untouched.",
        hold=True, faults=(Kill("billing", when=LLMCallHeld(2)),), checks=(Wasted(exactly=1),), tags=("process", "kill"),
    ),
    remote(
        "remote-baseline-typescript-agent",
        "No fault: the router routes to the TypeScript ProductAgent (Restate TS SDK + Vercel AI SDK).",
        hold=False, faults=(), checks=(Wasted(exactly=0), RetriesPlausible(at_most=0)), tags=("baseline", "typescript"),
        product=True,
    ),
    remote(
        "kill-typescript-agent-mid-call",
        "SIGKILL the TypeScript ProductAgent while its LLM answer is held, restart it: its step is "
        "retried once, the Python router is untouched.",
        hold=True, faults=(Kill("product", when=LLMCallHeld(2)),), checks=(Wasted(exactly=1),),
        tags=("process", "kill", "typescript"), product=True,
    ),
    remote(
        "kill-router-while-remote-call-in-flight",
        "SIGKILL the router while BillingAgent.run is in flight (its LLM answer held), restart it: the "
        "router replays and attaches to the same callee; nothing is called twice.",
        hold=True, faults=(Kill("router", when=LLMCallHeld(2)),), checks=(Wasted(exactly=0),), tags=("process", "kill"),
    ),
    remote(
        "partition-restate-to-agent",
        "Cut the Restate→billing link while the agent's LLM answer is held, heal after 1 s: the answer "
        "cannot be journaled, so the step is retried once after the heal.",
        hold=True, faults=(Partition("restate->billing", when=LLMCallHeld(2), until=After(1.0)),),
        checks=(Wasted(exactly=1), RetriesPlausible(at_least=1)), tags=("link", "partition"),
    ),
    remote(
        "latency-on-agent-link",
        "300 ms latency both ways on Restate→billing for the whole run: slower, nothing wasted.",
        hold=False,
        faults=(Latency("restate->billing", latency_ms=300), Latency("restate->billing", latency_ms=300, stream="upstream")),
        checks=(Wasted(exactly=0), SlowedDown(0.6)), tags=("link", "latency"),
    ),
    remote(
        "reset-peer-on-agent-link",
        "TCP resets on Restate→billing while the agent's LLM answer is held, healed after 0.5 s: the "
        "answer cannot be journaled; a retry inside the window may be reset too (1-3 wasted).",
        hold=True, faults=(ResetPeer("restate->billing", when=LLMCallHeld(2), until=After(0.5)),),
        # Retries start 100 ms apart, so 0-2 of them reach the LLM inside the 0.5 s window.
        checks=(Wasted(at_least=1, at_most=3), RetriesPlausible(at_least=1)), tags=("link", "reset_peer"),
    ),
    remote(
        "kill-restate-server-mid-call-tree",
        "SIGKILL restate-server while the billing agent's LLM answer is held (router waiting on the "
        "callee), restart on the same data dir: the tree resumes, the callee's step is retried once.",
        hold=True, faults=(Kill("restate", when=LLMCallHeld(2), until=After(0.5)),),
        checks=(NoAcknowledgedRequestLost(), Wasted(exactly=1)),
        tags=("server", "kill"),
    ),
)

"""LLM faults, for both routers: rate limits, outages, hangs, slow and malformed answers,
and a routing decision that names an agent that does not exist."""

from __future__ import annotations

from harness.checker.checks import (
    FailedTerminally,
    NoDuplicateLLMCalls,
    SlowedDown,
    Wasted,
    WastedExplainedByFaults,
)
from harness.nemesis.faults import (
    ROUTING,
    LLMHang,
    LLMMalformed,
    LLMMatch,
    LLMRateLimited,
    LLMServerError,
    LLMSlowFirstToken,
    LLMStreamCut,
    LLMWrongTool,
)
from harness.runner.scenario import Scenario, standard_checks
from harness.workload import Requests

from . import local_router
from .agents import LOCAL_ROUTER, REMOTE_AGENTS
from .llm_scripts import BILLING_ANSWER, billing_conversation

SPECIALIST = LLMMatch(system_contains="billing specialist")
ROUTER_MAX_ATTEMPTS = 6  # agents/routing.py LLM_STEP

# What the reference routers answer when the LLM names an agent that does not exist
# (agents/specialists.py: unknown_agent_answer); the catalogue does not import agent code.
UNKNOWN_AGENT_ANSWER = "Sorry, I cannot route to 'RefundsWizardAgent': no such specialist."


def both_routers(name: str, description: str, **fields) -> tuple[Scenario, ...]:  # type: ignore[no-untyped-def]
    """The same LLM fault against the local and the remote router."""
    answer = fields.pop("answer", BILLING_ANSWER)
    checks = fields.pop("checks")
    expect_failure = fields.get("expect_failure", False)
    base = () if expect_failure else standard_checks(answer)
    return (
        Scenario(name=name, description=description, agents=(LOCAL_ROUTER,), script=billing_conversation(),
                 workload=local_router.ASK, checks=(*base, *checks), tags=("local", "llm"), **fields),
        Scenario(name=name, description=description, agents=REMOTE_AGENTS, script=billing_conversation(),
                 workload=Requests("RemoteAgentRouter", "answer", local_router.ASK.question),
                 checks=(*base, *checks), tags=("remote", "llm"), **fields),
    )


SCENARIOS = (
    *both_routers(
        "rate-limit-storm",
        "The routing call gets HTTP 429 (Retry-After: 0) three times, then the storm ends: the step's "
        "retries absorb it; exactly three wasted calls.",
        faults=(LLMRateLimited(match=ROUTING, times=3),),
        checks=(Wasted(exactly=3),),
    ),
    *both_routers(
        "llm-down-beyond-max-attempts",
        f"The routing call gets HTTP 503 every time: after {ROUTER_MAX_ATTEMPTS} attempts the step gives up "
        "and the invocation fails terminally: no retry storm, no hang.",
        faults=(LLMServerError(match=ROUTING, status=503, times=None),),
        checks=(FailedTerminally(), NoDuplicateLLMCalls(), WastedExplainedByFaults(), Wasted(exactly=ROUTER_MAX_ATTEMPTS)),
        expect_failure=True,
    ),
    *both_routers(
        "unknown-agent-in-routing",
        "The routing decision names an agent that does not exist: the router answers cleanly instead "
        "of failing or retrying.",
        faults=(LLMWrongTool(agent="RefundsWizardAgent"),),
        answer=UNKNOWN_AGENT_ANSWER,
        checks=(Wasted(exactly=0),),
    ),
    *both_routers(
        "llm-hang-past-client-timeout",
        "The specialist's LLM call never answers: the agent's client times out (OPENAI_TIMEOUT_S=2) and "
        "the step is retried once.",
        faults=(LLMHang(match=SPECIALIST),),
        checks=(Wasted(exactly=1),),
    ),
    *both_routers(
        "llm-slow-first-token",
        "The specialist's answer starts only after 1.5 s, within the client's timeout: slower, nothing wasted.",
        faults=(LLMSlowFirstToken(match=SPECIALIST, answer=BILLING_ANSWER, delay_s=1.5),),
        checks=(Wasted(exactly=0), SlowedDown(1.5)),
    ),
    *both_routers(
        "llm-stream-cut",
        "The specialist's answer is cut off midway: the SDK raises, the step is retried once.",
        faults=(LLMStreamCut(match=SPECIALIST),),
        checks=(Wasted(exactly=1),),
    ),
    *both_routers(
        "llm-malformed-json",
        "The specialist's first answer is not JSON: the SDK raises, the step is retried once.",
        faults=(LLMMalformed(match=SPECIALIST),),
        checks=(Wasted(exactly=1),),
    ),
)


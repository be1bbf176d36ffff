"""LLM faults, for both routers: rate limits, outages, hangs, slow and malformed answers;
answers that arrive whole and are wrong (empty, truncated, refused, a stream that stops,
arguments that are not JSON or not the tool's, a tool that does not exist); and the
provider's refusals of the request itself (context length, a refused key).

The reference agents check each answer inside the step that asked for it
(``agents/specialists.py``), so a wrong answer fails the step and Restate calls the model
again: the request finishes with the baseline's answer, one call wasted per bad answer."""

from __future__ import annotations

from harness.checker.checks import (
    FailedTerminally,
    NoDuplicateLLMCalls,
    SlowedDown,
    Wasted,
    WastedExplainedByFaults,
)
from harness.nemesis.faults import (
    LLMHang,
    LLMMalformed,
    LLMMatch,
    LLMRateLimited,
    LLMServerError,
    LLMSlowFirstToken,
    LLMStreamCut,
    LLMAuth,
    LLMBadToolArgs,
    LLMContextLength,
    LLMEmpty,
    LLMRefusal,
    LLMSchemaViolation,
    LLMStreamEarlyEnd,
    LLMTruncated,
    LLMWrongTool,
)
from harness.runner.scenario import Scenario, standard_checks
from harness.workload import Requests

from . import local_router
from .agents import LOCAL_ROUTER, REMOTE_AGENTS, ROUTING
from .llm_scripts import BILLING_ANSWER, billing_conversation

SPECIALIST = LLMMatch(system_contains="billing specialist")
ROUTER_MAX_ATTEMPTS = 6  # agents/routing.py LLM_STEP


def both_routers(name: str, description: str, **fields) -> tuple[Scenario, ...]:  # type: ignore[no-untyped-def]
    """The same LLM fault against the local and the remote router. A bad answer meets the
    same checks in both (``agents/specialists.py``), so the remote router's value-fault
    scenarios are ``extended``: out of the default selection, which must stay within a minute."""
    answer = fields.pop("answer", BILLING_ANSWER)
    checks = fields.pop("checks")
    expect_failure = fields.get("expect_failure", False)
    tags = fields.pop("tags", ())
    base = () if expect_failure else standard_checks(answer)
    return (
        Scenario(name=name, description=description, agents=(LOCAL_ROUTER,), script=billing_conversation(),
                 workload=local_router.ASK, checks=(*base, *checks), tags=("local", "llm", *tags), **fields),
        Scenario(name=name, description=description, agents=REMOTE_AGENTS, script=billing_conversation(),
                 workload=Requests("RemoteAgentRouter", "answer", local_router.ASK.question),
                 checks=(*base, *checks), tags=("remote", "llm", *tags, *(("extended",) if "value" in tags else ())),
                 **fields),
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
    *both_routers(
        "llm-empty-answer",
        "The specialist answers with nothing (200, finished normally): the step sees the empty answer, "
        "raises, and Restate calls the model again; one call wasted.",
        faults=(LLMEmpty(match=SPECIALIST),),
        checks=(Wasted(exactly=1),),
        tags=("value",),
    ),
    *both_routers(
        "llm-truncated-answer",
        "The specialist's answer is cut at the token limit (finish_reason: length): the step raises "
        "rather than journal half an answer; one call wasted.",
        faults=(LLMTruncated(match=SPECIALIST),),
        checks=(Wasted(exactly=1),),
        tags=("value",),
    ),
    *both_routers(
        "llm-refusal",
        "The specialist's answer is filtered (finish_reason: content_filter): the step raises and the "
        "next call answers; one call wasted.",
        faults=(LLMRefusal(match=SPECIALIST),),
        checks=(Wasted(exactly=1),),
        tags=("value",),
    ),
    *both_routers(
        "llm-stream-early-end",
        "The specialist's stream stops halfway with no error, no finish reason and no [DONE]: the step "
        "notices the missing finish, raises, and the call is made again; one call wasted.",
        faults=(LLMStreamEarlyEnd(match=SPECIALIST),),
        checks=(Wasted(exactly=1),),
        tags=("value",),
    ),
    *both_routers(
        "llm-bad-tool-args",
        "The routing call's arguments are not JSON: the routing step parses them, raises, and routes "
        "again; one call wasted.",
        faults=(LLMBadToolArgs(match=ROUTING),),
        checks=(Wasted(exactly=1),),
        tags=("value",),
    ),
    *both_routers(
        "llm-schema-violation",
        "The routing call's arguments are JSON the tool's schema refuses (a property it does not allow): "
        "the routing step raises, and routes again; one call wasted.",
        faults=(LLMSchemaViolation(match=ROUTING),),
        checks=(Wasted(exactly=1),),
        tags=("value",),
    ),
    *both_routers(
        "llm-wrong-tool",
        "The routing decision names an agent that does not exist: the routing step raises instead of "
        "journaling it, and routes again; one call wasted.",
        faults=(LLMWrongTool(agent="RefundsWizardAgent"),),
        checks=(Wasted(exactly=1),),
        tags=("value",),
    ),
    *both_routers(
        "llm-context-length",
        "The routing call gets HTTP 400 context_length_exceeded: the same prompt can never fit, so the "
        "router fails the request terminally at once instead of retrying it.",
        faults=(LLMContextLength(match=ROUTING),),
        checks=(FailedTerminally(), NoDuplicateLLMCalls(), Wasted(exactly=1)),
        expect_failure=True,
        tags=("value",),
    ),
    *both_routers(
        "llm-auth-rotated-key",
        "The routing call gets HTTP 401 twice (a key being rotated), then the key works: the step's "
        "retries ride it out; two calls wasted.",
        faults=(LLMAuth(match=ROUTING, times=2),),
        checks=(Wasted(exactly=2),),
        tags=("value",),
    ),
)

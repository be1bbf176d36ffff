"""Random fault schedules and soak runs: many concurrent requests under a seeded random
schedule of process, link and LLM faults. Every request must be accounted for."""

from __future__ import annotations

from harness.checker.checks import (
    AllCompleted,
    CallTree,
    NoAcknowledgedRequestLost,
    NoDuplicateLLMCalls,
    NoDuplicateSideEffects,
    NoJournalMismatch,
    StepsOnce,
    WastedExplainedByFaults,
)
from harness.nemesis.schedule import drawn_schedules, schedules
from harness.runner.scenario import Scenario
from harness.workload import Requests

from .agents import LOCAL_ROUTER, REMOTE_AGENTS
from .llm_scripts import BILLING_ANSWER, BILLING_QUESTION, billing_conversation

DEFAULT_SEED = 20261125


def random_faults(
    router: str, *, n: int = 20, seed: int = DEFAULT_SEED, faults: int = 4, spread_s: float | None = None
) -> Scenario:
    """``n`` requests to the ``local`` or ``remote`` router, sent over the length of a random
    schedule of ``faults`` windows (about 1.3 s each, or over ``spread_s``), so that faults
    meet requests in flight. A failing run is shrunk (fewer faults, shorter windows, fewer
    requests) by replaying edited choices of its ``schedule_strategy``."""
    remote = router == "remote"
    processes = ["router", "billing", "restate"] if remote else ["router", "restate"]
    links = ["restate->router", "restate->billing", "billing->llm"] if remote else ["restate->router", "router->llm"]
    # A schedule may kill restate-server while requests are sent: none it acknowledged may be lost.
    checks = (AllCompleted(BILLING_ANSWER), NoDuplicateLLMCalls(), StepsOnce(), WastedExplainedByFaults(), NoJournalMismatch(),
              NoAcknowledgedRequestLost())
    # The schedule and the request count, drawn from a seed (or replayed from --schedule),
    # and shrunk when the run fails.
    # Bad answers among the LLM faults: the reference agents check every answer in its step.
    strategy = drawn_schedules(schedules(processes=processes, links=links, faults=faults, bad_answers=True), requests=n)
    return Scenario(
        name=f"random-faults-{router}" if n <= 50 else f"soak-{router}",
        description=f"{n} concurrent requests under a seeded random schedule of {faults} fault windows "
        "(process, link and LLM faults, bad answers included). Every request must complete, with no duplicate "
        "LLM call.",
        agents=REMOTE_AGENTS if remote else (LOCAL_ROUTER,),
        script=billing_conversation(),
        workload=Requests(
            "RemoteAgentRouter" if remote else "AgentRouter", "answer", BILLING_QUESTION, n=n,
            spread_s=1.3 * faults if spread_s is None else spread_s,
        ),
        checks=(*checks, CallTree(), NoDuplicateSideEffects()) if remote else checks,
        tags=(router, "random", "soak" if n > 50 else "schedule"),
        deadline_s=120.0 + n * 0.2,
        # Hundreds of requests on one Python process: the tests' 2 s inactivity timeout would
        # abort attempts that are merely queued. Soaks use Restate's own default, 60 s: at 10 s,
        # 1,000 requests at once on 2 cores saw 512 attempts aborted and re-run, and throughput
        # fell from 26 to 12 req/s (benchmarks/soak_throughput.py).
        inactivity_timeout_s=60.0 if n > 50 else None,
        # Likewise the agents' LLM client: at 2 s, an answer the fake sent at once is given up
        # on by a router busy with a hundred other attempts (a wasted call that no fault caused).
        llm_timeout_s=10.0 if n > 50 else None,
        schedule_strategy=strategy,
        schedule_for_seed=lambda s: strategy.example(s).faults,
    ).with_seed(seed)


SCENARIOS = (random_faults("local"), random_faults("remote"))

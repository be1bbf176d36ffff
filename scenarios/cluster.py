"""Node faults on a 3-node Restate cluster (replication 2), for both reference routers: kill
the partition leader while an LLM answer is held, restart a follower between two journaled
steps, cut the leader off from its peers, and a soak under a seeded random schedule of node
faults. They run only with ``--topology cluster`` (``CLUSTER_SCENARIOS``): their targets
(``leader``, ``follower``, ``restate-2``) exist only there. LLM call 2 is the specialist's
answer (the billing agent's, on the remote router)."""

from __future__ import annotations

from harness.checker.checks import (
    CallTree,
    NoAcknowledgedRequestLost,
    NoDuplicateSideEffects,
    Wasted,
)
from harness.nemesis.faults import IsolateNode, KillNode, RestartNode
from harness.nemesis.schedule import Timing, drawn_schedules, one_after_another
from harness.nemesis.strategies import (
    Strategy,
    builds,
    just,
    lists,
    one_of,
    sampled_from,
)
from harness.nemesis.triggers import After, LLMCallHeld, StepCompleted
from harness.runner.scenario import Scenario, standard_checks
from harness.workload import Requests

from .agents import LOCAL_ROUTER, REMOTE_AGENTS
from .llm_scripts import BILLING_ANSWER, BILLING_QUESTION, billing_conversation

DEFAULT_SEED = 20261126
NODE_TARGETS = ("leader", "follower", "restate-1", "restate-2", "restate-3")


def cluster_checks(router: str) -> tuple:  # type: ignore[type-arg]
    remote = router == "remote"
    return (*standard_checks(BILLING_ANSWER), NoAcknowledgedRequestLost(),
            *((CallTree(), NoDuplicateSideEffects()) if remote else ()))


def on_cluster(router: str, name: str, description: str, *, faults: tuple, checks: tuple, tags: tuple) -> Scenario:  # type: ignore[type-arg]
    remote = router == "remote"
    return Scenario(
        name=name,
        description=description,
        agents=REMOTE_AGENTS if remote else (LOCAL_ROUTER,),
        script=billing_conversation(hold_answer=True),
        workload=Requests("RemoteAgentRouter" if remote else "AgentRouter", "answer", BILLING_QUESTION, n=1),
        faults=faults,
        checks=(*cluster_checks(router), *checks),
        tags=("cluster", router, "node", *tags),
        deadline_s=90.0,
        trigger_timeout_s=30.0,
    )


def node_faults(timing: Timing = Timing(max_window_s=1.5)) -> Strategy:  # type: ignore[type-arg]
    """A kill (then restart), a graceful restart or an isolation of one node: the leader, a
    follower or a node by name."""
    target = sampled_from(NODE_TARGETS)
    return one_of(
        builds(KillNode, target, when=timing.when(), until=timing.until()),
        builds(RestartNode, target, when=timing.when(), until=just(After(0)), grace_s=just(2.0)),
        builds(IsolateNode, target, when=timing.when(), until=timing.until()),
    )


def cluster_soak(router: str = "local", *, n: int = 500, faults: int = 4, seed: int = DEFAULT_SEED) -> Scenario:
    """``n`` requests over the length of a seeded random schedule of ``faults`` node faults
    (about 3 s apart: a restarted node needs about that long to rejoin)."""
    remote = router == "remote"
    spread_s = 3.0 * faults
    timing = Timing(horizon_s=spread_s, max_window_s=1.5)
    strategy = drawn_schedules(lists(node_faults(timing), max_size=faults, average_size=faults).map(one_after_another), requests=n)
    return Scenario(
        name=f"cluster-soak-{router}",
        description=f"{n} concurrent requests to the {router} router on the 3-node cluster under a seeded random "
        f"schedule of {faults} node faults (kill, graceful restart or isolation of the leader, a follower or a "
        "named node). Every acknowledged request must complete, with no duplicate LLM call.",
        agents=REMOTE_AGENTS if remote else (LOCAL_ROUTER,),
        script=billing_conversation(),
        workload=Requests("RemoteAgentRouter" if remote else "AgentRouter", "answer", BILLING_QUESTION, n=n,
                          spread_s=spread_s),
        checks=cluster_checks(router),
        tags=("cluster", router, "node", "random", "soak"),
        deadline_s=180.0 + n * 0.3,
        trigger_timeout_s=60.0,
        inactivity_timeout_s=10.0,  # as the single-node soaks: queued attempts are not hung ones
        schedule_strategy=strategy,
        schedule_for_seed=lambda s: strategy.example(s).faults,
    ).with_seed(seed)


def _for(router: str) -> tuple[Scenario, ...]:
    return (
        on_cluster(
            router, "kill-partition-leader-while-llm-held",
            "SIGKILL the node leading the request's partition while the specialist's LLM answer is held, restart it "
            "after 0.5 s: another node takes the partition over (about 2 s) and the specialist call is retried.",
            faults=(KillNode("leader", when=LLMCallHeld(2), until=After(0.5)),),
            # The new leader's invoker starts a fresh attempt: Restate's retry count does not carry over.
            checks=(Wasted(at_least=1, at_most=2),), tags=("kill_node",),
        ),
        on_cluster(
            router, "restart-follower-between-steps",
            "Gracefully restart a follower of the request's partition as soon as the routing step is journaled: "
            "the leader keeps serving (replication 2 of 3 nodes), at most the held specialist call is retried.",
            faults=(RestartNode("follower", when=StepCompleted("route")),),
            checks=(Wasted(at_most=1),), tags=("restart_node",),
        ),
        on_cluster(
            router, "isolate-partition-leader",
            "Cut the partition leader's inbound link while the specialist's LLM answer is held, heal after 2 s: "
            "nothing can reach the leader meanwhile; the invocation completes after the heal.",
            faults=(IsolateNode("leader", when=LLMCallHeld(2), until=After(2.0)),),
            checks=(Wasted(at_most=2),), tags=("isolate_node",),
        ),
    )


SCENARIOS = (*_for("local"), *_for("remote"), cluster_soak("local"))

"""Node faults and partitions on a 3-node Restate cluster (replication 2), for both reference
routers: kill the partition leader while an LLM answer is held, restart a follower between two
journaled steps; partition the leader both ways while an LLM answer is held, cut the harness's
clients from the leader, a majority/minority split and a ring of majorities under a soak; and
a soak under a seeded random schedule of node faults and partitions. They run only with
``--topology cluster`` (``CLUSTER_SCENARIOS``): their targets
(``leader``, ``follower``, ``restate-2``) exist only there. LLM call 2 is the specialist's
answer (the billing agent's, on the remote router)."""

from __future__ import annotations

from harness.checker.checks import (
    CallTree,
    NoAcknowledgedRequestLost,
    NoDuplicateSideEffects,
    Wasted,
)
from harness.checker.leadership import FAILOVER_BOUND_S, IsolatedLeaderReplaced
from harness.checker.liveness import RecoversAfterHealing
from harness.nemesis.faults import (
    CutInboundNode,
    KillNode,
    PartitionBridge,
    PartitionClients,
    PartitionHalves,
    PartitionNode,
    PartitionPair,
    PartitionRing,
    RestartNode,
)
from harness.nemesis.schedule import Timing, drawn_schedules, one_after_another
from harness.nemesis.strategies import (
    Strategy,
    builds,
    just,
    lists,
    one_of,
    sampled_from,
)
from harness.nemesis.strategies import integers
from harness.nemesis.triggers import After, At, LeaderReplaced, LLMCallHeld, StepCompleted
from harness.runner.scenario import Scenario, standard_checks
from harness.workload import Requests

from .agents import LOCAL_ROUTER, REMOTE_AGENTS
from .llm_scripts import BILLING_ANSWER, BILLING_QUESTION, billing_conversation

DEFAULT_SEED = 20261126
NODE_TARGETS = ("leader", "follower", "restate-1", "restate-2", "restate-3")
# The longest a partition that cuts a leader off may wait for the failover (a median 6 s here,
# up to 11 s under a soak; harness.checker.leadership): it must happen inside the window.
PARTITION_S = FAILOVER_BOUND_S
SOAK_SPREAD_S = 15.0  # a partition soak's requests: before, during and after the split


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
    """A kill (then restart), a graceful restart or a one-way cut of one node (the leader, a
    follower or a node by name), or a partition: one node both ways, a pair, halves, a ring, a
    bridge (seeded), or the clients cut from one node."""
    target = sampled_from(NODE_TARGETS)
    seed = integers(0, 1000)
    return one_of(
        builds(KillNode, target, when=timing.when(), until=timing.until()),
        builds(RestartNode, target, when=timing.when(), until=just(After(0)), grace_s=just(2.0)),
        builds(CutInboundNode, target, when=timing.when(), until=timing.until()),
        builds(PartitionNode, target, when=timing.when(), until=timing.until()),
        builds(PartitionPair, just("leader"), just("follower"), when=timing.when(), until=timing.until()),
        builds(PartitionHalves, when=timing.when(), until=timing.until(), seed=seed),
        builds(PartitionRing, when=timing.when(), until=timing.until(), seed=seed),
        builds(PartitionBridge, when=timing.when(), until=timing.until(), seed=seed),
        builds(PartitionClients, target, when=timing.when(), until=timing.until()),
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
        f"schedule of {faults} node faults (kill, graceful restart or one-way cut of the leader, a follower or a "
        "named node) and partitions (a node both ways, a pair, halves, a ring, a bridge, clients from a node). "
        "Every acknowledged request must complete, with no duplicate LLM call.",
        agents=REMOTE_AGENTS if remote else (LOCAL_ROUTER,),
        script=billing_conversation(),
        workload=Requests("RemoteAgentRouter" if remote else "AgentRouter", "answer", BILLING_QUESTION, n=n,
                          spread_s=spread_s),
        checks=cluster_checks(router),
        # Extended (by name or --tag extended): with a 3 s settle after each of its faults it takes
        # about 35 s, which `run --topology cluster` cannot fit in its two minutes beside the partitions.
        tags=("cluster", router, "node", "partition", "random", "soak", "extended"),
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
            router, "partition-leader-both-ways-while-llm-held",
            f"Cut the partition leader off from both other nodes, both ways, while the specialist's LLM answer is "
            f"held; heal 2 s after the majority has elected a new leader (at most {PARTITION_S:.0f} s): the "
            "failover happens inside the window, the invocation completes after the heal, nothing is lost or done "
            "twice.",
            faults=(PartitionNode("leader", when=LLMCallHeld(2), until=LeaderReplaced(2.0, PARTITION_S)),),
            checks=(IsolatedLeaderReplaced(), RecoversAfterHealing(bound_s=60.0), Wasted(at_most=2)),
            tags=("partition", "partition_node"),
        ),
        on_cluster(
            router, "clients-cut-from-leader",
            "Cut the harness's ingress and admin traffic off the partition leader for 5 s while the specialist's "
            "LLM answer is held; its peers still reach it, so it keeps leading and the invocation completes.",
            faults=(PartitionClients("leader", when=LLMCallHeld(2), until=After(5.0)),),
            checks=(RecoversAfterHealing(bound_s=60.0), Wasted(at_most=1)),
            tags=("partition", "partition_clients", "extended"),  # by name or --tag extended: see partition_soak
        ),
    )


def partition_soak(router: str, shape: str, *, n: int = 200, seed: int = DEFAULT_SEED) -> Scenario:
    """``n`` requests over ``SOAK_SPREAD_S`` while the cluster is split (``halves``: a seeded
    minority and majority; ``ring``: Jepsen's ring of overlapping majorities) from 2 s in, until
    2 s after a failover (at most ``PARTITION_S``)."""
    remote = router == "remote"
    # Healed 2 s after a failover, if the split left the leader in the minority.
    until = LeaderReplaced(2.0, PARTITION_S)
    fault = (PartitionHalves(when=At(2.0), until=until, seed=seed) if shape == "halves"
             else PartitionRing(when=At(2.0), until=until, seed=seed))
    return Scenario(
        name=f"partition-{shape}-soak",
        description=f"{n} requests to the {router} router over {SOAK_SPREAD_S:.0f} s while the cluster is split "
        f"({'a seeded minority and majority' if shape == 'halves' else 'a ring of overlapping majorities'}) for "
        f"up to {PARTITION_S:.0f} s: requests on the minority side wait, none acknowledged is lost, every one "
        "completes after the heal, with no duplicate LLM call; the recovery time is reported.",
        agents=REMOTE_AGENTS if remote else (LOCAL_ROUTER,),
        script=billing_conversation(),
        workload=Requests("RemoteAgentRouter" if remote else "AgentRouter", "answer", BILLING_QUESTION, n=n,
                          spread_s=SOAK_SPREAD_S, retry_for_s=60.0),
        faults=(fault,),
        checks=(*cluster_checks(router), IsolatedLeaderReplaced(), RecoversAfterHealing(bound_s=90.0)),
        # One split under a soak runs by default; the others (and clients-cut-from-leader) when asked
        # for, by name or --tag extended, to keep `run --topology cluster` near its two minutes.
        tags=("cluster", router, "partition", f"partition_{shape}", "soak",
              *(() if (shape, router) == ("halves", "local") else ("extended",))),
        deadline_s=240.0,
        trigger_timeout_s=60.0,
        inactivity_timeout_s=10.0,  # as the other soaks: queued attempts are not hung ones
    )


SCENARIOS = (*_for("local"), *_for("remote"), partition_soak("local", "halves"), partition_soak("remote", "halves"),
             partition_soak("local", "ring"), partition_soak("remote", "ring"), cluster_soak("local"))

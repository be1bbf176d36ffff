"""Partitions of a Restate cluster (``--topology cluster``), as Jepsen makes them: the kernel's
packet filter drops what one node sends to another (``harness.env.packet_filter``), so a cut
is between chosen nodes, in the directions it says, and heals completely.

A partition is a *grudge*: the directed pairs ``(sender, receiver)`` whose traffic is
dropped. The shapes are Jepsen's (``jepsen.nemesis``): one node isolated both ways, a pair,
a random majority and minority, a ring of overlapping majorities, a bridge; and one of ours,
the harness's clients cut from a node that its peers still reach. Random shapes draw from a
seed the fault carries, so a schedule replays and shrinks. Each fault records the cuts, the
sides and the leaders it found, and its undo waits until every partition is led again and
leadership has stopped moving.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from harness.context import RunContext
from harness.errors import HarnessError
from harness.nemesis.faults.nodes import ClusterNodes, cluster_of, resolve_node
from harness.nemesis.triggers import After, Trigger

Grudge = tuple[tuple[str, str], ...]  # (sender, receiver): what sender sends to receiver is dropped


@runtime_checkable
class Partitionable(ClusterNodes, Protocol):
    """What partitions need of a Restate cluster (``harness.env.restate.cluster``), beyond
    what node faults need."""

    def wait_until_ready(self) -> object: ...
    def leaders(self) -> dict[int, tuple[str, int]]: ...
    def cut_between(self, sender: str, receiver: str) -> Any: ...
    def cut_from_clients(self, node: str) -> Any: ...
    def cut(self, cuts: Sequence[Any]) -> None: ...
    def heal(self, labels: Sequence[str]) -> None: ...


def partitionable(run: RunContext) -> Partitionable:
    """The run's cluster, as partitions use it (one clear error on a single server)."""
    cluster = cluster_of(run)
    if not isinstance(cluster, Partitionable):
        raise HarnessError(f"partitions need a cluster that can cut between its nodes, not {type(cluster).__name__}")
    return cluster


# --- shapes: pure functions of the node names (and a seed) -----------------------------------


def both_ways(pairs: Sequence[tuple[str, str]]) -> Grudge:
    return tuple(sorted({p for a, b in pairs for p in ((a, b), (b, a))}))


def between(side: Sequence[str], other: Sequence[str]) -> Grudge:
    """Every node of ``side`` cut from every node of ``other``, both ways."""
    return both_ways([(a, b) for a in side for b in other])


def halves(nodes: Sequence[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """A random minority and majority (Jepsen's ``split-one``/``bisect`` of shuffled nodes)."""
    shuffled = sorted(nodes)
    rng.shuffle(shuffled)
    cut = len(shuffled) // 2
    return sorted(shuffled[:cut]), sorted(shuffled[cut:])


def ring(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Jepsen's ``majorities-ring``: around a shuffled ring, each node sees a majority (itself
    and its neighbours within half a majority) and drops what the others send it; no two
    nodes see the same majority. With three nodes each node hears from one peer only."""
    order = sorted(nodes)
    rng.shuffle(order)
    n = len(order)
    majority = n // 2 + 1
    grudge = []
    for i, receiver in enumerate(order):
        seen = {order[(i + k) % n] for k in range(-(majority // 2), majority - majority // 2)}
        grudge += [(sender, receiver) for sender in order if sender not in seen]
    return tuple(sorted(grudge))


def bridge(nodes: Sequence[str], rng: random.Random) -> tuple[Grudge, str]:
    """Jepsen's ``bridge``: two halves that cannot talk, and one node in both that talks to
    all. Returns the grudge and the bridge."""
    order = sorted(nodes)
    rng.shuffle(order)
    middle = len(order) // 2
    return between(order[:middle], order[middle + 1:]), order[middle]


def majority_of(grudge: Grudge, nodes: Sequence[str]) -> list[str]:
    """The nodes that still hear from a majority (themselves included) under ``grudge``."""
    needed = len(nodes) // 2 + 1
    return [n for n in nodes if sum(1 for s in nodes if (s, n) not in grudge) >= needed]


# --- the faults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Partition:
    """What every partition does: resolve its grudge, cut it, record it; heal and wait until
    every partition is led again and, if it cut nodes from each other, leadership has stopped
    moving."""

    cuts_nodes: ClassVar[bool] = True  # False: only clients are cut, so leadership has no reason to move

    def grudge(self, run: RunContext, nodes: list[str]) -> tuple[Grudge, dict[str, Any]]:
        raise NotImplementedError

    def apply(self, run: RunContext) -> dict[str, Any]:
        cluster = partitionable(run)
        nodes = cluster.node_names()
        grudge, detail = self.grudge(run, nodes)
        cuts = [cluster.cut_between(a, b) for a, b in grudge]
        return self._cut(cluster, cuts, {**detail, "majority": majority_of(grudge, nodes)})

    def _cut(self, cluster: Partitionable, cuts: list[Any], detail: dict[str, Any]) -> dict[str, Any]:
        leaders = cluster.leaders()
        cluster.cut(cuts)
        return {**detail, "cut": [c.label for c in cuts],
                "leaders_before": {str(p): leader for p, (leader, _) in sorted(leaders.items())},
                "epochs_before": {str(p): epoch for p, (_, epoch) in sorted(leaders.items())}}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        cluster = partitionable(run)
        cluster.heal(applied["cut"])
        if self.cuts_nodes:
            cluster.wait_until_leaders_settle()  # healed, and leadership stopped moving: the window ends here
        else:
            cluster.wait_until_ready()


@dataclass(frozen=True)
class PartitionNode(_Partition):
    """One node (``leader``, ``follower`` or a name, resolved when applied) cut from every
    other node, both ways."""

    kind: ClassVar[str] = "partition_node"
    target: str
    when: Trigger
    until: Trigger | None = After(12.0)

    def grudge(self, run: RunContext, nodes: list[str]) -> tuple[Grudge, dict[str, Any]]:
        node = resolve_node(run, self.target)
        return between([node], [n for n in nodes if n != node]), {"node": node}


@dataclass(frozen=True)
class PartitionPair(_Partition):
    """Exactly the link between two nodes cut, both ways; each still talks to the third."""

    kind: ClassVar[str] = "partition_pair"
    target: str
    other: str
    when: Trigger
    until: Trigger | None = After(5.0)

    def grudge(self, run: RunContext, nodes: list[str]) -> tuple[Grudge, dict[str, Any]]:
        a, b = resolve_node(run, self.target), resolve_node(run, self.other)
        if a == b:
            raise HarnessError(f"partition_pair needs two nodes; {self.target} and {self.other} are both {a}")
        return between([a], [b]), {"pair": [a, b]}


@dataclass(frozen=True)
class _Seeded(_Partition):
    """A shape over the whole cluster, drawn from ``seed``: a schedule replays it."""

    when: Trigger
    until: Trigger | None = After(10.0)
    seed: int = 0
    target: str = "cluster"


@dataclass(frozen=True)
class PartitionHalves(_Seeded):
    """A random minority and majority (from ``seed``), cut from each other both ways."""

    kind: ClassVar[str] = "partition_halves"
    until: Trigger | None = After(12.0)

    def grudge(self, run: RunContext, nodes: list[str]) -> tuple[Grudge, dict[str, Any]]:
        minority, majority = halves(nodes, random.Random(self.seed))
        return between(minority, majority), {"minority": minority}


@dataclass(frozen=True)
class PartitionRing(_Seeded):
    """Jepsen's ring of overlapping majorities (from ``seed``): every node hears from a
    majority, no two the same one."""

    kind: ClassVar[str] = "partition_ring"

    def grudge(self, run: RunContext, nodes: list[str]) -> tuple[Grudge, dict[str, Any]]:
        return ring(nodes, random.Random(self.seed)), {}


@dataclass(frozen=True)
class PartitionBridge(_Seeded):
    """Two halves that cannot talk, joined by one node (from ``seed``) that talks to both."""

    kind: ClassVar[str] = "partition_bridge"

    def grudge(self, run: RunContext, nodes: list[str]) -> tuple[Grudge, dict[str, Any]]:
        grudge, node = bridge(nodes, random.Random(self.seed))
        return grudge, {"bridge": node}


@dataclass(frozen=True)
class PartitionClients(_Partition):
    """The harness's clients (its ingress requests and admin SQL, through their links) cut
    from one node, both ways; its peers still reach it, so it keeps its roles."""

    kind: ClassVar[str] = "partition_clients"
    cuts_nodes: ClassVar[bool] = False
    target: str
    when: Trigger
    until: Trigger | None = After(5.0)

    def apply(self, run: RunContext) -> dict[str, Any]:
        cluster = partitionable(run)
        node = resolve_node(run, self.target)
        return self._cut(cluster, [cluster.cut_from_clients(node)], {"node": node, "majority": cluster.node_names()})


PARTITION_FAULTS = (PartitionNode, PartitionPair, PartitionHalves, PartitionRing, PartitionBridge, PartitionClients)
PARTITION_KINDS = frozenset(f.kind for f in PARTITION_FAULTS)

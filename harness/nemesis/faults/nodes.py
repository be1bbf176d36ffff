"""Faults on a Restate cluster's nodes (``--topology cluster``), and how they find the node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from harness.context import RunContext
from harness.errors import HarnessError
from harness.nemesis.triggers import After, Trigger


@runtime_checkable
class ClusterNodes(Protocol):
    """What node faults need of a Restate cluster (``harness.env.restate.cluster``): its
    node names, who leads or follows the partition of an invocation, the links that
    isolate a node, and waiting until every partition is led again and its leader stopped
    moving (a node that rejoins moves leadership once or twice more). A cluster's node
    processes carry it as ``.cluster``."""

    def node_names(self) -> list[str]: ...
    def wait_until_leaders_settle(self) -> None: ...
    def leader_for(self, invocation_id: str | None) -> str: ...
    def follower_for(self, invocation_id: str | None) -> str: ...
    def links_of(self, node: str) -> list[str]: ...


NODE_ROLES = ("leader", "follower")


def cluster_of(run: RunContext) -> ClusterNodes:
    """The run's cluster, or one clear error when the run has a single server."""
    try:
        cluster = getattr(run.process("restate-1"), "cluster", None)
    except HarnessError:
        cluster = None
    if not isinstance(cluster, ClusterNodes):
        raise HarnessError("node faults need a Restate cluster: run with --topology cluster")
    return cluster


def first_in_flight(run: RunContext) -> str | None:
    """The run's first invocation that has not completed (else its first one; None before any)."""
    ids = run.invocation_ids()
    if not ids:
        return None
    rows = {inv.id: inv for inv in run.admin.invocations(ids)}
    return next((i for i in ids if i in rows and not rows[i].done), ids[0] if ids[0] in rows else None)


def resolve_node(run: RunContext, target: str) -> str:
    """A node fault's target as a node name: ``leader`` (of the partition the run's first
    in-flight invocation lives on), ``follower`` (a node that is not that leader, a
    replica of the partition if one is), or a node name (``restate-2``)."""
    cluster = cluster_of(run)
    if target in NODE_ROLES:
        invocation = first_in_flight(run)
        pick = cluster.leader_for if target == "leader" else cluster.follower_for
        try:
            return pick(invocation)
        except HarnessError:
            if invocation is None:
                raise
            return pick(None)  # not in the partition table yet: the first partition's
    if target not in cluster.node_names():
        raise HarnessError(f"unknown node {target!r}; known: {', '.join([*NODE_ROLES, *cluster.node_names()])}")
    return target


@dataclass(frozen=True)
class KillNode:
    """SIGKILL one restate-server node of the cluster (``leader``, ``follower`` or a node
    name, resolved when applied), then restart it on its data dir."""

    kind: ClassVar[str] = "kill_node"
    target: str
    when: Trigger
    until: Trigger | None = After(0.5)

    def apply(self, run: RunContext) -> dict[str, Any]:
        node = resolve_node(run, self.target)
        run.process(node).kill()
        return {"node": node}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(applied["node"]).restart()  # back once rejoined and leadership stopped moving: the window ends


@dataclass(frozen=True)
class RestartNode:
    """A graceful restart of one node: SIGTERM (SIGKILL after ``grace_s``), then start
    again at once on its data dir."""

    kind: ClassVar[str] = "restart_node"
    target: str
    when: Trigger
    until: Trigger | None = After(0)
    grace_s: float = 5.0

    def apply(self, run: RunContext) -> dict[str, Any]:
        node = resolve_node(run, self.target)
        escalated = run.process(node).terminate(self.grace_s)
        return {"node": node, "escalated_to_kill": escalated}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(applied["node"]).start()  # back once rejoined and leadership stopped moving: the window ends


@dataclass(frozen=True)
class CutInboundNode:
    """Cut one node's inbound Toxiproxy link: no peer (nor the node itself, through its
    advertised address) can reach it, but it still sends to them, so this is a one-way
    partition (it was ``isolate_node``; Restate keeps such a leader). Restored when undone.
    For a node cut off both ways, ``PartitionNode`` (``harness.nemesis.faults.partitions``)."""

    kind: ClassVar[str] = "cut_inbound_node"
    target: str
    when: Trigger
    until: Trigger | None = After(2.0)

    def apply(self, run: RunContext) -> dict[str, Any]:
        node = resolve_node(run, self.target)
        links = cluster_of(run).links_of(node)
        for name in links:
            run.link(name).cut()
        return {"node": node, "links": links}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        for name in applied["links"]:
            run.link(name).restore()
        cluster_of(run).wait_until_leaders_settle()


NODE_FAULTS = (KillNode, RestartNode, CutInboundNode)

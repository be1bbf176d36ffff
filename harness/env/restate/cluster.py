"""A 3-node Restate cluster on loopback (``--topology cluster``): three restate-server
processes, replication 2, each with its own base dir and log (``restate-1.log``...), the
cluster auto-provisioned by node 1 only.

Links. Every node has one inbound Toxiproxy link, ``->restate-N``, in front of its
node-to-node port: its advertised address and every node's metadata client address point
at these links, so all traffic *to* a node (from its peers, and from itself through its
advertised address) crosses its link. Restate has one advertised address per node and
Toxiproxy cannot tell clients apart, so per-pair links are impossible; and Restate's
connections are directional (a node sends over the connections it opened), so cutting
``->restate-N`` makes node N unreachable: nothing can be sent to it, not its partition
processors' RPCs, log appends to its log server, or its metadata server's votes. What a
cut does not stop is N sending to its peers (their links stay up for each other): it is
a one-way partition, which is the closest Toxiproxy comes to isolating one node from the
other two. Measured on 1.7.12: with the leader's link cut, its leadership is not taken
away while the cut lasts (the others still hear from it), and the others' SQL fails
until the link is restored; a killed leader is replaced in about 2 s.

Partitions. Cuts in both directions, between chosen nodes, are the kernel's: each node runs
in a cgroup of its own and a cut drops what one node's cgroup sends to another's ports
(``harness.env.packet_filter``; ``cut_between``, ``cut_from_clients``, ``cut``, ``heal``).
Toxiproxy stays on every link for latency, bandwidth and slicing. Leadership is read from
every node at once (``leaders``): an isolated leader goes on acting at its old epoch.

Admin and ingress. The harness has one admin URL (SQL) and one ingress port (the client
link's upstream). Both are Toxiproxy links too, ``restate-admin`` and
``restate-ingress``, served by node 1 at first. Before a node that serves them is
killed, terminated or paused, they are re-pointed at the first node still up, so SQL
introspection and the workload keep working whichever node a fault hits; they stay
there (a restarted node does not take them back).

Leadership is not in SQL introspection on 1.7.12 (no partition table there): it is read
with ``restatectl sql`` (``partitions``, ``partition_state``, ``nodes``), on a node's own
port, not through its link, so a cut never hides it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.env import binaries
from harness.env.cleanup import Cleanup
from harness.env.links import Link
from harness.env.packet_filter import Cut
from harness.env.ports import free_port
from harness.env.process import ManagedProcess, retry_on_taken_port
from harness.env.restate.admin import RestateAdmin
from harness.env.restate.server import (
    ABORT_TIMEOUT_S,
    INACTIVITY_TIMEOUT_S,
    RestateServer,
    _sql_ready,
)
from harness.errors import HarnessError
from harness.settings import Settings

NODES = 3
REPLICATION = 2
CLUSTER_NAME = "rrh-cluster"
READY_TIMEOUT_S = 60.0  # three servers booting on two cores, plus provisioning and elections
# Failure detection made faster than Restate's defaults, as the harness's inactivity timeout is:
# with these an isolated leader was replaced after a median 6.0 s and a cluster booted in
# 2.9 s; with the defaults (suspect 5 s, heartbeat 1.5 s, keep-alives 5 s and 3 s) 13.4 s and
# 8.4 s (benchmarks/partition_failover.py, cluster_boot.py). ``extra_env`` overrides them.
FAILURE_DETECTION = (
    ("RESTATE_GOSSIP_SUSPECT_INTERVAL", "1s"),
    ("RESTATE_ADMIN__HEARTBEAT_INTERVAL", "500ms"),
    ("RESTATE_NETWORKING__HTTP2_KEEP_ALIVE_TIMEOUT", "1s"),
    ("RESTATE_METADATA_CLIENT__KEEP_ALIVE_INTERVAL", "1s"),
    ("RESTATE_METADATA_CLIENT__KEEP_ALIVE_TIMEOUT", "1s"),
)


def node_name(i: int) -> str:
    return f"restate-{i}"


def inbound_link(node: str) -> str:
    """The name of the link in front of ``node``'s node-to-node port."""
    return f"->{node}"


@dataclass(frozen=True)
class PartitionInfo:
    """One partition as ``restatectl`` sees it: its key range, leader and replicas (node
    names). ``settled``: exactly one node acts as its leader, has caught up, and is in
    its replica set (right after start-up or a failover, the old leader may act on for a
    second or two while a new one leads at a higher epoch)."""

    partition_id: int
    start_key: int
    end_key: int
    leader: str | None
    replicas: tuple[str, ...]
    settled: bool = True


def parse_jsonl(text: str) -> list[dict[str, Any]]:
    """``restatectl sql --jsonl`` output: one JSON object a line, then a summary line."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def parse_partitions(partitions: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]],
                     states: Sequence[Mapping[str, Any]] = ()) -> list[PartitionInfo]:
    """Partitions with node names instead of Restate's node ids (``N2`` may be
    ``restate-3``). The leader is the node ``partition_state`` reports acting as leader
    at the highest epoch, else the partition table's; None while there is none."""
    names = {str(n.get("plain_node_id")): str(n.get("name")) for n in nodes if n.get("plain_node_id")}
    acting = acting_leaders(states)
    out = []
    for p in partitions:
        pid = int(p["partition_id"])
        replicas = tuple(names.get(r.strip(), r.strip()) for r in str(p.get("current_replica_set") or "").split(",") if r.strip())
        leaders = acting.get(pid, [])
        leader = names.get(str(leaders[0].get("plain_node_id"))) if leaders else None
        leader = leader or names.get(str(p.get("leader_plain_node_id")))
        settled = (
            len(leaders) == 1
            and leaders[0].get("replay_status", "active") == "active"
            and (not replicas or leader in replicas)
        )
        out.append(PartitionInfo(pid, int(p.get("start_key", 0)), int(p.get("end_key", 2**64 - 1)), leader, replicas,
                                 settled))
    return out


def acting_leaders(states: Sequence[Mapping[str, Any]]) -> dict[int, list[Mapping[str, Any]]]:
    """``partition_state`` rows of nodes acting as a partition's leader, per partition, the
    highest epoch first: after a failover, or under a partition, the old leader may act on at
    its old epoch while a new one leads at a higher one."""
    acting: dict[int, list[Mapping[str, Any]]] = {}
    for state in states:
        if str(state.get("effective_mode", "")).lower() == "leader" and "partition_id" in state:
            acting.setdefault(int(state["partition_id"]), []).append(state)
    return {pid: sorted(rows, key=lambda s: _epoch(s.get("leader_epoch")), reverse=True) for pid, rows in acting.items()}


def _epoch(value: Any) -> int:
    """A leader epoch as restatectl prints it: ``7`` or ``"e7"``."""
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    return int(digits) if digits else -1


def partition_of(key: int, partitions: Sequence[PartitionInfo]) -> PartitionInfo:
    for p in partitions:
        if p.start_key <= key <= p.end_key:
            return p
    raise HarnessError(f"no partition holds partition key {key}")


class NodeProcess(ManagedProcess):
    """A node's process: a ``ManagedProcess`` that, before it goes down (kill, SIGTERM,
    SIGSTOP), moves the admin and ingress links off itself if it serves them, and that is
    back (``start``, so ``restart`` too, and ``resume``) only once the cluster is led again and
    its leadership has stopped moving: whichever fault stopped it (a node fault, or ``kill``
    of ``restate``), the next scenario on this cluster must not meet the moves. ``cluster``
    is how node faults find the cluster's introspection (``harness.nemesis.faults``)."""

    cluster: "RestateCluster"

    def start(self) -> "NodeProcess":
        super().start()
        self.cluster.wait_until_leaders_settle()
        return self

    def resume(self) -> None:
        super().resume()
        self.cluster.wait_until_leaders_settle()

    def kill(self) -> None:
        if self.running and not self._reaped:
            self.cluster._leaving(self.name)
        super().kill()

    def terminate(self, grace_s: float = 3.0) -> bool:
        if self.running:
            self.cluster._leaving(self.name)
        return super().terminate(grace_s)

    def pause(self) -> None:
        self.cluster._leaving(self.name)
        super().pause()


@dataclass
class _Node:
    name: str
    server: RestateServer  # its ports, env and base dir: a single server's, plus the cluster's settings
    link: Link | None = None
    process: NodeProcess | None = None


@dataclass
class RestateCluster:
    """Three restate-server nodes behind Toxiproxy links; see the module's doc. Satisfies
    ``RestateLike``; its fault targets are ``restate-1``..``restate-3`` and ``restate``
    (node 1, as for a single server)."""

    log_dir: Path
    settings: Settings = field(kw_only=True)
    cleanup: Cleanup = field(kw_only=True, repr=False)
    link: Any = field(kw_only=True, repr=False)  # MakeLink: (name, port) -> Link
    extra_env: dict[str, str] = field(default_factory=dict, kw_only=True)
    inactivity_timeout_s: float = INACTIVITY_TIMEOUT_S
    abort_timeout_s: float = ABORT_TIMEOUT_S
    nodes: list[_Node] = field(default_factory=list, init=False)
    serving: str = field(default=node_name(1), init=False)  # the node behind the admin and ingress links
    _stopping: bool = field(default=False, init=False, repr=False)
    _id: str = field(default_factory=lambda: uuid.uuid4().hex[:8], init=False, repr=False)
    _cuts: list[Cut] = field(default_factory=list, init=False, repr=False)  # in force (an owner's other clusters have theirs)
    _admin_link: Link | None = field(default=None, init=False, repr=False)
    _ingress_link: Link | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for i in range(1, NODES + 1):
            server = RestateServer(
                self.log_dir, cleanup=self.cleanup, settings=self.settings,
                inactivity_timeout_s=self.inactivity_timeout_s, abort_timeout_s=self.abort_timeout_s,
            )
            self.nodes.append(_Node(node_name(i), server))

    # --- RestateLike -------------------------------------------------------------------

    @property
    def external(self) -> bool:
        return False

    @property
    def admin_url(self) -> str:
        return self._admin_link.url if self._admin_link is not None else self.nodes[0].server.admin_url

    @property
    def ingress_port(self) -> int:
        return self._ingress_link.listen_port if self._ingress_link is not None else self.nodes[0].server.ingress_port

    def spawn(self) -> "RestateCluster":
        """Make the links and start the three nodes, without waiting for them."""
        first = self.nodes[0].server
        if self._admin_link is None:
            self._admin_link = self.link("restate-admin", first.admin_port)
            self._ingress_link = self.link("restate-ingress", first.ingress_port)
        for node in self.nodes:
            if node.link is None:
                node.link = self.link(inbound_link(node.name), node.server.node_port)
        for i, node in enumerate(self.nodes):
            self._spawn_node(i, node)
        return self

    def _spawn_node(self, i: int, node: _Node) -> None:
        metadata = json.dumps([n.link.url for n in self.nodes if n.link is not None])
        if node.server.base_dir is None:
            node.server.base_dir = self.cleanup.make_temp_dir("restate-") / "data"
        assert node.link is not None
        node.server.extra_env = {
            "RESTATE_CLUSTER_NAME": CLUSTER_NAME,
            "RESTATE_NODE_NAME": node.name,
            "RESTATE_DEFAULT_REPLICATION": str(REPLICATION),
            "RESTATE_METADATA_CLIENT__ADDRESSES": metadata,
            "RESTATE_ADVERTISED_ADDRESS": node.link.url,
            "RESTATE_AUTO_PROVISION": "true" if i == 0 else "false",
            **dict(FAILURE_DETECTION),
            **self.extra_env,
        }
        argv = [binaries.restate_server(self.settings), "--base-dir", str(node.server.base_dir), "--no-logo",
                "--listen-mode", "tcp"]
        if self.partitionable:  # in a cgroup of its own, so that the packet filter can tell it apart
            argv = self.cleanup.packet_filter().enter(self._group(node.name), argv)
        process = NodeProcess(
            name=node.name,
            argv=argv,
            env=node.server._env(),
            log_path=self.log_dir / f"{node.name}.log",
            ready=_sql_ready(node.server.admin_url),
            listens_on=node.server.admin_port,
            ready_timeout_s=READY_TIMEOUT_S,
            cleanup=self.cleanup,
        )
        process.cluster = self
        node.process = process
        process.spawn()

    def _wait_for_node(self, i: int, node: _Node) -> None:
        """Wait for one node; if another program took one of its ports between picking and
        binding, start it again on fresh ones, its links following it (peers know it by
        its inbound link's address, which does not change)."""

        def ready() -> None:
            assert node.process is not None
            node.process.wait_until_ready()

        def move() -> None:
            assert node.process is not None and node.link is not None
            node.process.stop()
            server = node.server
            server.ingress_port, server.admin_port, server.node_port = free_port(), free_port(), free_port()
            node.link.repoint(server.node_port)
            if i == 0 and self._admin_link is not None and self._ingress_link is not None:
                self._admin_link.repoint(server.admin_port)
                self._ingress_link.repoint(server.ingress_port)
            self._spawn_node(i, node)

        retry_on_taken_port(ready, move)

    def wait_until_ready(self) -> "RestateCluster":
        """Ready when every node's admin answers SQL and every partition has a leader that
        has caught up (``restatectl``)."""
        for i, node in enumerate(self.nodes):
            self._wait_for_node(i, node)
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                partitions = self.partitions()
                if partitions and all(p.leader and p.settled for p in partitions):
                    return self
                last = f"partitions {partitions}"
            except HarnessError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise HarnessError(f"the Restate cluster had no settled leader for every partition after {READY_TIMEOUT_S:.0f}s: {last}")

    def stop(self) -> None:
        self._stopping = True  # nothing to re-point: every node goes
        if self._cuts:  # a run stopped mid-partition: its nodes' cgroups go with them
            self.heal([c.label for c in self._cuts])
        for node in self.nodes:
            if node.process is not None:
                node.process.stop()
            if node.server.base_dir is not None:
                self.cleanup.remove_temp_dir(node.server.base_dir.parent)
                node.server.base_dir = None

    def processes(self) -> dict[str, ManagedProcess]:
        """``restate-1``..``restate-3``, and ``restate``: node 1."""
        found: dict[str, ManagedProcess] = {n.name: n.process for n in self.nodes if n.process is not None}
        if node_name(1) in found:
            found["restate"] = found[node_name(1)]
        return found

    # --- introspection for node faults ---------------------------------------------------

    def node_names(self) -> list[str]:
        return [n.name for n in self.nodes]

    def links_of(self, node: str) -> list[str]:
        """The links to cut to isolate ``node`` (see the module's doc)."""
        self._node(node)
        return [inbound_link(node)]

    # --- partitions (harness.env.packet_filter) --------------------------------------------

    @property
    def why_not_partitionable(self) -> str | None:
        """None when the packet filter can cut between nodes on this machine; else why not."""
        return self.cleanup.packet_filter().why_unavailable

    @property
    def partitionable(self) -> bool:
        return self.why_not_partitionable is None

    def cut_between(self, sender: str, receiver: str) -> Cut:
        """What ``sender`` sends to ``receiver`` dropped: to its inbound link (how peers reach
        it) and its node port."""
        target = self._node(receiver).server
        link = self._node(receiver).link
        self._node(sender)
        ports = (link.listen_port, target.node_port) if link is not None else (target.node_port,)
        return Cut(f"{sender}->{receiver}", ports, sender=self._group(sender))

    def _group(self, node: str) -> str:
        """The node's cgroup: one per cluster, as an owner's workers each run one."""
        return f"{self._id}-{node}"

    def cut_from_clients(self, node: str) -> Cut:
        """What anyone sends to ``node``'s admin and ingress ports dropped: the harness's SQL
        and requests (through their links) cannot reach it; its peers use the node port."""
        server = self._node(node).server
        return Cut(f"clients->{node}", (server.admin_port, server.ingress_port))

    def cut(self, cuts: Sequence[Cut]) -> None:
        if not self.partitionable:
            raise HarnessError(f"cannot partition the cluster: {self.why_not_partitionable}")
        packet_filter = self.cleanup.packet_filter()
        for cut in cuts:
            packet_filter.cut(cut)
            self._cuts.append(cut)

    def heal(self, labels: Sequence[str]) -> None:
        """This cluster's cuts in force with these labels (``restate-1->restate-2``) healed."""
        packet_filter = self.cleanup.packet_filter()
        for cut in [c for c in self._cuts if c.label in labels]:
            packet_filter.heal(cut)
            self._cuts.remove(cut)

    # --- leadership ---------------------------------------------------------------------------

    def wait_until_leaders_settle(self, quiet_s: float = 3.0, within_s: float = 45.0) -> None:
        """Ready, then until no partition's leader has changed for ``quiet_s``. After a heal
        or a restart, the rejoining node moves leadership two to four more times within about
        5 s (over 22 heals, consecutive moves were at most 1.7 s apart): what that disturbs is
        still the fault's doing, so its window lasts until then."""
        self.wait_until_ready()
        deadline = time.monotonic() + within_s
        last, since = self.leaders(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.leaders()
            if now != last or not now:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
        raise HarnessError(f"the cluster's leadership kept changing for {within_s:.0f}s after the heal: {last}")

    def leaders(self) -> dict[int, tuple[str, int]]:
        """Each partition's leader and its epoch, as the nodes see it: every node reachable
        is asked at once (on its own port) and the leader at the highest epoch wins, so a
        leader cut off in a minority, still acting at its old epoch, is seen replaced as soon
        as the majority has elected another. Empty when no node answers."""
        sql = ("SELECT ps.partition_id, n.name, ps.effective_mode, ps.leader_epoch FROM partition_state ps "
               "JOIN nodes n ON ps.plain_node_id = n.plain_node_id")

        def view(node: _Node) -> list[dict[str, Any]]:
            try:
                return self._ctl_on(node, sql, timeout_s=3.0)
            except HarnessError:  # cut off, or busy electing: the others answer
                return []

        with ThreadPoolExecutor(len(self.nodes)) as pool:
            rows = [row for view_rows in pool.map(view, self._up()) for row in view_rows]
        return {pid: (str(states[0].get("name")), _epoch(states[0].get("leader_epoch")))
                for pid, states in acting_leaders(rows).items()}

    def partitions(self) -> list[PartitionInfo]:
        nodes = self._ctl("SELECT plain_node_id, name FROM nodes")
        table = self._ctl("SELECT partition_id, start_key, end_key, leader_plain_node_id, current_replica_set FROM partitions")
        states = self._ctl("SELECT partition_id, plain_node_id, effective_mode, leader_epoch, replay_status FROM partition_state")
        return parse_partitions(table, nodes, states)

    def leader_of_partition(self, partition_id: int) -> str:
        for p in self.partitions():
            if p.partition_id == partition_id:
                if p.leader is None:
                    raise HarnessError(f"partition {partition_id} has no leader right now")
                return p.leader
        raise HarnessError(f"no partition {partition_id} in the cluster")

    def partition_for(self, invocation_id: str | None) -> PartitionInfo:
        """The partition ``invocation_id`` lives on (partition 0's... the first one's if None)."""
        partitions = self.partitions()
        if not partitions:
            raise HarnessError("the cluster reports no partition")
        if invocation_id is None:
            return partitions[0]
        rows = self._sql(f"SELECT partition_key FROM sys_invocation_status WHERE id = '{_quote(invocation_id)}'")
        if not rows or rows[0].get("partition_key") is None:
            raise HarnessError(f"invocation {invocation_id} is not in sys_invocation_status")
        return partition_of(int(rows[0]["partition_key"]), partitions)

    def leader_for(self, invocation_id: str | None) -> str:
        """The node leading the partition ``invocation_id`` lives on."""
        partition = self.partition_for(invocation_id)
        if partition.leader is None:
            raise HarnessError(f"partition {partition.partition_id} has no leader right now")
        return partition.leader

    def follower_for(self, invocation_id: str | None) -> str:
        """A node that is not that leader: a replica of the partition if there is one."""
        partition = self.partition_for(invocation_id)
        others = [n for n in self.node_names() if n != partition.leader]
        replicas = [n for n in others if n in partition.replicas]
        return (replicas or others)[0]

    # --- internals ---------------------------------------------------------------------

    def _node(self, name: str) -> _Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise HarnessError(f"no node {name!r} in the cluster; nodes: {', '.join(self.node_names())}")

    def _up(self) -> list[_Node]:
        return [n for n in self.nodes if n.process is not None and n.process.running and not n.process.paused]

    def _ctl(self, sql: str) -> list[dict[str, Any]]:
        """``restatectl sql`` on the first node up that answers, on its own port (not through
        its link)."""
        last = ""
        for node in self._up() or self.nodes:
            try:
                return self._ctl_on(node, sql)
            except HarnessError as exc:
                last = str(exc)
        raise HarnessError(f"cannot read the cluster's state: {last}")

    def _ctl_on(self, node: _Node, sql: str, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        try:
            done = subprocess.run(
                [binaries.restatectl(self.settings), "sql", "--jsonl", sql],
                capture_output=True, text=True, timeout=timeout_s,
                env={**os.environ, "RESTATECTL_ADDRESS": f"http://127.0.0.1:{node.server.node_port}", "NO_COLOR": "1"},
            )
        except subprocess.TimeoutExpired:
            raise HarnessError(f"restatectl on {node.name} timed out") from None
        if done.returncode != 0:
            raise HarnessError(f"restatectl on {node.name}: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
        return parse_jsonl(done.stdout)

    def _sql(self, sql: str) -> list[dict[str, Any]]:
        admin = RestateAdmin(self.admin_url)
        try:
            return admin.query(sql)
        finally:
            admin.close()

    def _leaving(self, name: str) -> None:
        """``name`` is about to go down: if it serves admin and ingress, move them to the
        first other node that is up."""
        if name != self.serving or self._stopping:
            return
        others = [n for n in self._up() if n.name != name]
        if not others:
            return  # the whole cluster is going down: nothing to move to
        target = others[0]
        for front, port in ((self._admin_link, target.server.admin_port), (self._ingress_link, target.server.ingress_port)):
            if front is not None:
                front.repoint(port)
        self.serving = target.name


def _quote(value: str) -> str:
    return value.replace("'", "''")


__all__ = ["NodeProcess", "PartitionInfo", "RestateCluster", "acting_leaders", "inbound_link", "node_name", "parse_jsonl",
           "parse_partitions", "partition_of"]

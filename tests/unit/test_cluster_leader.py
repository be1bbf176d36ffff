"""Reading a cluster's partition leadership from restatectl's output, and resolving node
faults' targets (``leader``, ``follower``, a name) against a fake run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.env.restate.cluster import (
    PartitionInfo,
    acting_leaders,
    parse_jsonl,
    parse_partitions,
    partition_of,
)
from harness.errors import HarnessError
from harness.history import Invocation
from harness.nemesis.faults import (
    PARTITION_KINDS,
    CutInboundNode,
    KillNode,
    RestartNode,
    describe,
    resolve_node,
)
from harness.nemesis.triggers import LLMCallHeld

# As restatectl 1.7.12 printed them (`sql --jsonl`), trimmed to the columns read.
NODES = """{"plain_node_id":"N2","gen_node_id":"N2:1","state":"alive","name":"restate-3"}
{"plain_node_id":"N1","gen_node_id":"N1:2","state":"alive","name":"restate-1"}
{"plain_node_id":"N3","gen_node_id":"N3:1","state":"alive","name":"restate-2"}
3 rows. Query took 48.729309ms
"""
PARTITIONS = """{"partition_id":0,"start_key":0,"end_key":18446744073709551615,"log_id":0,"leader_plain_node_id":"N1","leader_epoch":"e2","current_replica_set":"N3,N1"}
1 rows. Query took 9.805123ms
"""
STATES = """{"partition_id":0,"plain_node_id":"N1","effective_mode":"Leader","replay_status":"active"}
{"partition_id":0,"plain_node_id":"N3","effective_mode":"Follower","replay_status":"starting"}
2 rows. Query took 43.837523ms
"""


def test_jsonl_keeps_the_rows_and_drops_the_summary_line() -> None:
    rows = parse_jsonl(NODES)
    assert [r["name"] for r in rows] == ["restate-3", "restate-1", "restate-2"]
    assert parse_jsonl("Error: Failed to run query\n{not json\n") == []


def test_partitions_name_nodes_by_their_names_not_restate_ids() -> None:
    [p] = parse_partitions(parse_jsonl(PARTITIONS), parse_jsonl(NODES), parse_jsonl(STATES))
    assert p == PartitionInfo(0, 0, 2**64 - 1, "restate-1", ("restate-2", "restate-1"), settled=True)


def test_the_acting_leader_wins_over_a_stale_partition_table() -> None:
    # Right after a failover the table may still name the old leader; partition_state says who acts.
    states = [{"partition_id": 0, "plain_node_id": "N2", "effective_mode": "Leader"}]
    [p] = parse_partitions(parse_jsonl(PARTITIONS), parse_jsonl(NODES), states)
    assert p.leader == "restate-3"
    [p] = parse_partitions([{"partition_id": 0, "current_replica_set": ""}], parse_jsonl(NODES))
    assert p.leader is None and p.replicas == ()


def test_of_two_nodes_acting_as_leader_the_higher_epoch_leads_and_the_partition_is_not_settled() -> None:
    # Seen here right after start-up: the cluster controller moved the partition to
    # [N1, N3]; N1 led at e3 while N3, its old leader at e2, had not conceded yet.
    states = [{"partition_id": 0, "plain_node_id": "N3", "effective_mode": "Leader", "leader_epoch": 2,
               "replay_status": "active"},
              {"partition_id": 0, "plain_node_id": "N1", "effective_mode": "Leader", "leader_epoch": "e3",
               "replay_status": "active"}]
    [p] = parse_partitions(parse_jsonl(PARTITIONS), parse_jsonl(NODES), states)
    assert p.leader == "restate-1" and not p.settled
    [p] = parse_partitions(parse_jsonl(PARTITIONS), parse_jsonl(NODES), states[1:])
    assert p.leader == "restate-1" and p.settled


def test_a_leader_still_replaying_or_outside_the_replica_set_is_not_settled() -> None:
    replaying = [{"partition_id": 0, "plain_node_id": "N1", "effective_mode": "Leader", "replay_status": "starting"}]
    [p] = parse_partitions(parse_jsonl(PARTITIONS), parse_jsonl(NODES), replaying)
    assert p.leader == "restate-1" and not p.settled
    outside = [{"partition_id": 0, "plain_node_id": "N2", "effective_mode": "Leader", "replay_status": "active"}]
    [p] = parse_partitions(parse_jsonl(PARTITIONS), parse_jsonl(NODES), outside)
    assert p.leader == "restate-3" and not p.settled  # N2 is not in the replica set N3,N1


def test_a_partition_key_finds_its_partition() -> None:
    parts = [PartitionInfo(0, 0, 99, "restate-1", ()), PartitionInfo(1, 100, 2**64 - 1, "restate-2", ())]
    assert partition_of(5, parts).leader == "restate-1"
    assert partition_of(100, parts).leader == "restate-2"
    with pytest.raises(HarnessError):
        partition_of(5, parts[1:])


# --- resolving a node fault's target ----------------------------------------------------


@dataclass
class FakeCluster:
    leader: str = "restate-2"
    asked: list[str | None] = field(default_factory=list)

    def node_names(self) -> list[str]:
        return ["restate-1", "restate-2", "restate-3"]

    def leader_for(self, invocation_id: str | None) -> str:
        self.asked.append(invocation_id)
        return self.leader

    def follower_for(self, invocation_id: str | None) -> str:
        self.asked.append(invocation_id)
        return "restate-3"

    def links_of(self, node: str) -> list[str]:
        return [f"->{node}"]

    def wait_until_leaders_settle(self) -> None:
        pass

    def wait_until_ready(self) -> "FakeCluster":
        self.asked.append("settled?")
        return self


@dataclass
class FakeProcess:
    cluster: Any = None
    events: list[str] = field(default_factory=list)

    def kill(self) -> None:
        self.events.append("kill")

    def restart(self) -> None:
        self.events.append("restart")

    def terminate(self, grace_s: float) -> bool:
        self.events.append("terminate")
        return False

    def start(self) -> None:
        self.events.append("start")


@dataclass
class FakeLink:
    events: list[str] = field(default_factory=list)

    def cut(self) -> None:
        self.events.append("cut")

    def restore(self) -> None:
        self.events.append("restore")


class FakeAdmin:
    def __init__(self, rows: list[Invocation]) -> None:
        self.rows = rows

    def invocations(self, ids: Any = None) -> list[Invocation]:
        return self.rows


class FakeRun:
    def __init__(self, cluster: Any, ids: list[str], rows: list[Invocation]) -> None:
        self.cluster, self.ids, self.admin = cluster, ids, FakeAdmin(rows)
        self.procs = {n: FakeProcess(cluster) for n in ("restate-1", "restate-2", "restate-3")}
        self.links = {f"->{n}": FakeLink() for n in self.procs}

    def invocation_ids(self) -> list[str]:
        return self.ids

    def process(self, name: str) -> FakeProcess:
        if name not in self.procs:
            raise HarnessError(f"unknown fault target {name!r}")
        return self.procs[name]

    def link(self, name: str) -> FakeLink:
        return self.links[name]


def test_leader_is_resolved_for_the_first_invocation_still_in_flight() -> None:
    cluster = FakeCluster()
    run = FakeRun(cluster, ["inv_a", "inv_b"], [Invocation("inv_a", "completed"), Invocation("inv_b", "running")])
    assert resolve_node(run, "leader") == "restate-2"  # type: ignore[arg-type]
    assert resolve_node(run, "follower") == "restate-3"  # type: ignore[arg-type]
    assert cluster.asked == ["inv_b", "inv_b"]
    assert resolve_node(FakeRun(cluster, [], []), "leader") == "restate-2"  # type: ignore[arg-type]
    assert cluster.asked[-1] is None


def test_a_node_name_is_taken_as_is_and_an_unknown_one_is_one_clear_error() -> None:
    run = FakeRun(FakeCluster(), [], [])
    assert resolve_node(run, "restate-3") == "restate-3"  # type: ignore[arg-type]
    with pytest.raises(HarnessError, match="unknown node 'restate-9'; known: leader, follower, restate-1"):
        resolve_node(run, "restate-9")  # type: ignore[arg-type]


def test_node_faults_need_a_cluster() -> None:
    single = FakeRun(None, [], [])
    with pytest.raises(HarnessError, match="--topology cluster"):
        KillNode("leader", when=LLMCallHeld(2)).apply(single)  # type: ignore[arg-type]


def test_kill_restart_and_isolate_hit_the_resolved_node_and_record_it() -> None:
    run = FakeRun(FakeCluster(leader="restate-1"), [], [])
    kill = KillNode("leader", when=LLMCallHeld(2))
    applied = kill.apply(run)  # type: ignore[arg-type]
    assert applied == {"node": "restate-1"}
    kill.undo(run, applied)  # type: ignore[arg-type]
    assert run.procs["restate-1"].events == ["kill", "restart"]

    restart = RestartNode("restate-2", when=LLMCallHeld(1))
    restart.undo(run, restart.apply(run))  # type: ignore[arg-type]
    assert run.procs["restate-2"].events == ["terminate", "start"]

    isolate = CutInboundNode("leader", when=LLMCallHeld(2))
    applied = isolate.apply(run)  # type: ignore[arg-type]
    assert applied == {"node": "restate-1", "links": ["->restate-1"]}
    isolate.undo(run, applied)  # type: ignore[arg-type]
    assert run.links["->restate-1"].events == ["cut", "restore"]
    assert run.links["->restate-2"].events == []


def test_node_faults_describe_themselves_with_their_kinds() -> None:
    assert describe(KillNode("leader", when=LLMCallHeld(2))) == "kill_node leader when LLM call 2 is held, undone after 0.5s"
    assert {f.kind for f in (KillNode("a", LLMCallHeld(1)), RestartNode("a", LLMCallHeld(1)), CutInboundNode("a", LLMCallHeld(1)))} \
        == {"kill_node", "restart_node", "cut_inbound_node"}


def test_the_single_node_catalogue_is_unchanged_and_cluster_scenarios_are_apart() -> None:
    from scenarios import CATALOGUE, CLUSTER_SCENARIOS

    assert len(CATALOGUE) == 54  # 45 in the default selection, 9 extended
    assert not any("cluster" in s.tags for s in CATALOGUE)
    assert all("cluster" in s.tags for s in CLUSTER_SCENARIOS)
    assert {s.agent_label for s in CLUSTER_SCENARIOS} == {"local-router", "remote-router"}
    soak = next(s for s in CLUSTER_SCENARIOS if s.name == "cluster-soak-local")
    assert soak.workload.n == 500 and soak.seed is not None
    assert set(soak.fault_kinds) <= {"kill_node", "restart_node", "cut_inbound_node"} | PARTITION_KINDS
    drawn = {f.kind for seed in range(30) for f in soak.schedule_for_seed(seed)}  # type: ignore[misc]
    assert drawn & PARTITION_KINDS and drawn & {"kill_node", "restart_node"}  # it draws from both
    # Jepsen's partitions, on both routers: the leader both ways, clients, halves and a ring under a soak.
    for name in ("partition-leader-both-ways-while-llm-held", "clients-cut-from-leader", "partition-halves-soak",
                 "partition-ring-soak"):
        assert {s.agent_label for s in CLUSTER_SCENARIOS if s.name == name} == {"local-router", "remote-router"}
    assert all(s.partitions for s in CLUSTER_SCENARIOS if s.name.startswith("partition-"))
    assert next(s for s in CLUSTER_SCENARIOS if s.name == "partition-halves-soak").workload.n == 200


def test_the_acting_leader_at_the_highest_epoch_comes_first_whoever_reports_it() -> None:
    # Two views under a partition: the cut-off old leader still acts at epoch 4, the majority elected another at 5.
    rows = [{"partition_id": 0, "name": "restate-1", "effective_mode": "Leader", "leader_epoch": 4},
            {"partition_id": 0, "name": "restate-3", "effective_mode": "Follower", "leader_epoch": 5},
            {"partition_id": 0, "name": "restate-2", "effective_mode": "Leader", "leader_epoch": "e5"}]
    [first, old] = acting_leaders(rows)[0]
    assert (first["name"], old["name"]) == ("restate-2", "restate-1")
    assert acting_leaders([r for r in rows if r["effective_mode"] == "Follower"]) == {}

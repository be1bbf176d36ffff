"""Partitions: their shapes (Jepsen's), pure functions of the node names and a seed, and the
faults that cut them, on a fake cluster."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from harness.env import packet_filter
from harness.env.packet_filter import Cut
from harness.errors import HarnessError
from harness.nemesis.faults.partitions import (
    PartitionBridge,
    PartitionClients,
    PartitionHalves,
    PartitionNode,
    PartitionPair,
    PartitionRing,
    between,
    bridge,
    halves,
    majority_of,
    ring,
)
from harness.nemesis.triggers import At

NODES = {n: [f"restate-{i}" for i in range(1, n + 1)] for n in (3, 4, 5, 7)}


def hears_from(grudge: tuple[tuple[str, str], ...], nodes: list[str], node: str) -> set[str]:
    return {s for s in nodes if (s, node) not in grudge}


@pytest.mark.parametrize("n", sorted(NODES))
@pytest.mark.parametrize("seed", range(6))
def test_halves_are_a_minority_and_a_majority_cut_both_ways(n: int, seed: int) -> None:
    nodes = NODES[n]
    minority, majority = halves(nodes, random.Random(seed))
    assert sorted(minority + majority) == sorted(nodes) and len(minority) == n // 2
    grudge = between(minority, majority)
    assert all((b, a) in grudge for a, b in grudge)  # both ways
    # An even number of nodes splits into two equal halves: then neither keeps a majority.
    assert sorted(majority_of(grudge, nodes)) == (majority if n % 2 else [])
    assert halves(nodes, random.Random(seed)) == (minority, majority)  # the seed replays it


def test_halves_draw_different_minorities_from_different_seeds() -> None:
    assert len({tuple(halves(NODES[3], random.Random(s))[0]) for s in range(20)}) == 3


@pytest.mark.parametrize("n", sorted(NODES))
@pytest.mark.parametrize("seed", range(6))
def test_a_ring_gives_every_node_a_majority_and_no_two_the_same(n: int, seed: int) -> None:
    nodes = NODES[n]
    grudge = ring(nodes, random.Random(seed))
    seen = [frozenset(hears_from(grudge, nodes, node)) for node in nodes]
    assert all(len(s) == n // 2 + 1 for s in seen), seen
    assert all(node in s for node, s in zip(nodes, seen))
    assert len(set(seen)) == n  # no two nodes hear from the same majority
    assert sorted(majority_of(grudge, nodes)) == nodes


@pytest.mark.parametrize("n", sorted(NODES))
def test_a_bridge_talks_to_both_halves_which_cannot_talk(n: int) -> None:
    nodes = NODES[n]
    grudge, node = bridge(nodes, random.Random(1))
    assert not any(node in pair for pair in grudge)
    others = [x for x in nodes if x != node]
    cut = {a for a, _ in grudge}
    assert cut == set(others)
    assert all((b, a) in grudge for a, b in grudge)


def test_a_node_cut_from_the_others_is_outside_the_majority() -> None:
    nodes = NODES[3]
    grudge = between(["restate-2"], ["restate-1", "restate-3"])
    assert len(grudge) == 4
    assert majority_of(grudge, nodes) == ["restate-1", "restate-3"]


# --- the faults, on a fake cluster: what they cut, record and heal --------------------------


@dataclass
class CuttableCluster:
    """A cluster as partitions see it, recording the cuts in force and how each undo waited."""

    leader: str = "restate-1"
    in_force: list[str] = field(default_factory=list)
    waited: list[str] = field(default_factory=list)

    def node_names(self) -> list[str]:
        return ["restate-1", "restate-2", "restate-3"]

    def leader_for(self, invocation_id: str | None) -> str:
        return self.leader

    def follower_for(self, invocation_id: str | None) -> str:
        return "restate-3"

    def links_of(self, node: str) -> list[str]:
        return [f"->{node}"]

    def leaders(self) -> dict[int, tuple[str, int]]:
        return {0: (self.leader, 7)}

    def cut_between(self, sender: str, receiver: str) -> Cut:
        return Cut(f"{sender}->{receiver}", (1,), sender=sender)

    def cut_from_clients(self, node: str) -> Cut:
        return Cut(f"clients->{node}", (2, 3))

    def cut(self, cuts: list[Cut]) -> None:
        self.in_force += [c.label for c in cuts]

    def heal(self, labels: list[str]) -> None:
        self.in_force = [label for label in self.in_force if label not in labels]

    def wait_until_ready(self) -> None:
        self.waited.append("ready")

    def wait_until_leaders_settle(self) -> None:
        self.waited.append("settled")


class Run:
    def __init__(self, cluster: CuttableCluster) -> None:
        self.node = type("Node", (), {"cluster": cluster})()

    def invocation_ids(self) -> list[str]:
        return []

    def process(self, name: str) -> object:
        return self.node


def test_partitioning_the_leader_cuts_it_both_ways_records_the_sides_and_heals_every_cut() -> None:
    cluster = CuttableCluster()
    run = Run(cluster)
    fault = PartitionNode("leader", when=At(1.0))
    applied = fault.apply(run)  # type: ignore[arg-type]
    assert sorted(cluster.in_force) == ["restate-1->restate-2", "restate-1->restate-3", "restate-2->restate-1",
                                        "restate-3->restate-1"]
    assert applied["node"] == "restate-1" and applied["majority"] == ["restate-2", "restate-3"]
    assert applied["leaders_before"] == {"0": "restate-1"} and applied["epochs_before"] == {"0": 7}
    fault.undo(run, applied)  # type: ignore[arg-type]
    assert cluster.in_force == [] and cluster.waited == ["settled"]


def test_a_pair_of_one_node_is_refused_and_clients_heal_without_waiting_for_leaders_to_settle() -> None:
    cluster = CuttableCluster()
    run = Run(cluster)
    with pytest.raises(HarnessError, match="two nodes"):
        PartitionPair("leader", "restate-1", when=At(1.0)).apply(run)  # type: ignore[arg-type]
    clients = PartitionClients("leader", when=At(1.0))
    applied = clients.apply(run)  # type: ignore[arg-type]
    assert cluster.in_force == ["clients->restate-1"] and applied["majority"] == cluster.node_names()
    clients.undo(run, applied)  # type: ignore[arg-type]
    assert cluster.in_force == [] and cluster.waited == ["ready"]  # no node was cut from another


def test_seeded_shapes_replay_from_their_seed() -> None:
    for kind in (PartitionHalves, PartitionRing, PartitionBridge):
        first, second = CuttableCluster(), CuttableCluster()
        a = kind(when=At(1.0), seed=11).apply(Run(first))  # type: ignore[arg-type]
        b = kind(when=At(1.0), seed=11).apply(Run(second))  # type: ignore[arg-type]
        assert a == b and first.in_force == second.in_force and first.in_force


# --- a machine that cannot cut ---------------------------------------------------------------


def test_without_root_there_are_no_partitions_and_one_line_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packet_filter.os, "geteuid", lambda: 1000)
    assert packet_filter.why_unavailable() == "partitions need root (iptables and cgroups)"


def test_the_cli_skips_partition_scenarios_with_one_line_and_keeps_the_rest(monkeypatch: pytest.MonkeyPatch,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from harness import cli
    from scenarios import CLUSTER_SCENARIOS

    monkeypatch.setattr(cli, "why_unavailable", lambda: "partitions need root (iptables and cgroups)")
    kept = cli.without_partitions_if_impossible(CLUSTER_SCENARIOS)
    cutting = [s for s in CLUSTER_SCENARIOS if s.partitions]
    assert cutting and kept == [s for s in CLUSTER_SCENARIOS if not s.partitions] and kept
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"skipping {len(cutting)} partition scenario(s): partitions need root (iptables and cgroups)"]
    monkeypatch.setattr(cli, "why_unavailable", lambda: None)
    assert cli.without_partitions_if_impossible(CLUSTER_SCENARIOS) == list(CLUSTER_SCENARIOS)

"""The shapes of partitions (Jepsen's): pure functions of the node names and a seed."""

from __future__ import annotations

import random

import pytest

from harness.nemesis.faults.partitions import between, bridge, halves, majority_of, ring

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

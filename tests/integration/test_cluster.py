"""The 3-node Restate cluster (``--topology cluster``) on real processes: it boots, a scenario
kills the partition leader while an LLM answer is held and passes with no acknowledged
request lost, and nothing is left behind."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from harness.env.cleanup import Cleanup
from harness.env.packet_filter import why_unavailable
from harness.env.links import ToxiproxyServer
from harness.env.restate.cluster import RestateCluster
from harness.checker.liveness import RecoversAfterHealing
from harness.nemesis.faults import PartitionBridge, PartitionPair
from harness.nemesis.triggers import After, At
from harness.runner.scenario import Scenario, run_scenario
from harness.settings import Settings
from harness.workload import Requests
from scenarios import CLUSTER_SCENARIOS
from scenarios.agents import LOCAL_ROUTER
from scenarios.cluster import cluster_checks
from scenarios.llm_scripts import BILLING_QUESTION, billing_conversation

from .conftest import has_restatectl

NO_PARTITIONS = why_unavailable()

pytestmark = pytest.mark.usefixtures("no_leftovers")



@pytest.mark.skipif(not has_restatectl(), reason="restatectl not installed: ./scripts/setup")
def test_leader_kill_on_the_cluster_passes_with_no_acknowledged_request_lost(tmp_path: Path, cleanup: Cleanup) -> None:
    scenario = next(s for s in CLUSTER_SCENARIOS
                    if s.name == "kill-partition-leader-while-llm-held" and s.agent_label == "local-router")
    result = run_scenario(scenario, tmp_path, settings=Settings(topology="cluster"), cleanup=cleanup)

    assert result.verdict == "pass", result.explain()
    lost = next(f for f in result.findings if f.check == "no acknowledged request lost")
    assert lost.ok and lost.message.startswith("1 acknowledged, 0 lost"), lost
    [fault] = result.faults
    assert fault.kind == "kill_node" and fault.target == "leader"
    assert fault.detail["node"] in ("restate-1", "restate-2", "restate-3")
    # The history says which node was killed; every node kept its own log.
    history = json.loads((tmp_path / scenario.folder / "history.json").read_text())
    assert history["faults"][0]["detail"]["node"] == fault.detail["node"]
    logs = tmp_path / scenario.folder / "logs"
    assert {f"restate-{i}.log" for i in (1, 2, 3)} <= {p.name for p in logs.iterdir()}
    assert not cleanup.groups and not cleanup.dirs  # the environment released every node and base dir


@pytest.mark.skipif(not has_restatectl(), reason="restatectl not installed: ./scripts/setup")
def test_a_node_whose_port_another_program_took_starts_again_on_fresh_ones(tmp_path: Path, cleanup: Cleanup) -> None:
    toxiproxy = ToxiproxyServer(tmp_path, cleanup=cleanup).start()
    cluster = RestateCluster(tmp_path, settings=Settings(topology="cluster"), cleanup=cleanup,
                             link=lambda name, port: toxiproxy.link(name, port))
    taken = cluster.nodes[1].server.admin_port
    try:
        with socket.socket() as other:  # another program holds node 2's admin port, and accepts on it
            other.bind(("127.0.0.1", taken))
            other.listen()
            cluster.spawn().wait_until_ready()
        node = cluster.nodes[1]
        assert node.server.admin_port != taken
        assert node.link is not None and node.link.upstream == f"127.0.0.1:{node.server.node_port}"
        assert all(p.leader and p.settled for p in cluster.partitions())
    finally:
        cluster.stop()
        toxiproxy.stop()


@pytest.mark.skipif(not has_restatectl(), reason="restatectl not installed: ./scripts/setup")
@pytest.mark.skipif(NO_PARTITIONS is not None, reason=NO_PARTITIONS or "")
@pytest.mark.parametrize("router", ["local-router", "remote-router"])
def test_a_leader_partitioned_both_ways_is_replaced_inside_the_window_and_nothing_is_lost(
        tmp_path: Path, cleanup: Cleanup, router: str) -> None:
    scenario = next(s for s in CLUSTER_SCENARIOS
                    if s.name == "partition-leader-both-ways-while-llm-held" and s.agent_label == router)
    result = run_scenario(scenario, tmp_path, settings=Settings(topology="cluster"), cleanup=cleanup)

    assert result.verdict == "pass", result.explain()
    [fault] = result.faults
    node = fault.detail["node"]
    others = sorted({"restate-1", "restate-2", "restate-3"} - {node})
    # Cut both ways, between exactly the isolated node and each of the others.
    assert sorted(fault.detail["cut"]) == sorted([f"{node}->{o}" for o in others] + [f"{o}->{node}" for o in others])
    assert fault.detail["leaders_before"] == {"0": node} and fault.detail["majority"] == others
    replaced = next(f for f in result.findings if f.check == "isolated leader replaced")
    assert replaced.ok and replaced.exercised and f"leader {node} replaced by" in replaced.message
    for check in ("no acknowledged request lost", "no duplicate LLM calls", "finishes after every fault healed"):
        assert next(f for f in result.findings if f.check == check).ok
    # The history has the leader before, the new one inside the window, and who leads after the heal.
    history = json.loads((tmp_path / scenario.folder / "history.json").read_text())
    record = history["faults"][0]
    inside = [c for c in history["leadership"] if record["applied_at"] <= c["at"] <= record["undone_at"]]
    assert any(c["leader"] != node for c in inside), history["leadership"]


@pytest.mark.skipif(not has_restatectl(), reason="restatectl not installed: ./scripts/setup")
@pytest.mark.skipif(NO_PARTITIONS is not None, reason=NO_PARTITIONS or "")
def test_a_pair_cut_and_a_bridge_under_load_cut_what_they_say_and_lose_nothing(tmp_path: Path, cleanup: Cleanup) -> None:
    scenario = Scenario(
        name="pair-then-bridge",
        description="the leader and a follower cut from each other, then a bridge, under 30 requests",
        agents=(LOCAL_ROUTER,),
        script=billing_conversation(),
        workload=Requests("AgentRouter", "answer", BILLING_QUESTION, n=30, spread_s=10.0, retry_for_s=60.0),
        faults=(PartitionPair("leader", "follower", when=At(1.0), until=After(3.0)),
                PartitionBridge(when=At(2.0), until=After(3.0), seed=7)),
        checks=(*cluster_checks("local"), RecoversAfterHealing(bound_s=60.0)),
        tags=("cluster", "partition"),
        deadline_s=120.0,
        trigger_timeout_s=60.0,
    )
    result = run_scenario(scenario, tmp_path, settings=Settings(topology="cluster"), cleanup=cleanup)

    assert result.verdict == "pass", result.explain()
    pair, bridged = result.faults
    a, b = pair.detail["pair"]
    assert a != b and sorted(pair.detail["cut"]) == sorted([f"{a}->{b}", f"{b}->{a}"])
    assert sorted(pair.detail["majority"]) == ["restate-1", "restate-2", "restate-3"]  # each still hears a majority
    node = bridged.detail["bridge"]
    ends = sorted({"restate-1", "restate-2", "restate-3"} - {node})
    assert sorted(bridged.detail["cut"]) == sorted([f"{ends[0]}->{ends[1]}", f"{ends[1]}->{ends[0]}"])
    assert pair.healed_s is not None and bridged.healed_s is not None

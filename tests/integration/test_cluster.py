"""The 3-node Restate cluster (``--topology cluster``) on real processes: it boots, a scenario
kills the partition leader while an LLM answer is held and passes with no acknowledged
request lost, and nothing is left behind."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from harness.env.cleanup import Cleanup
from harness.env.links import ToxiproxyServer
from harness.env.restate.cluster import RestateCluster
from harness.runner.scenario import run_scenario
from harness.settings import Settings
from scenarios import CLUSTER_SCENARIOS

from .conftest import has_restatectl

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

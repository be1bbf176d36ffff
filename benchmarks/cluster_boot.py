"""Boot time of one restate-server against the 3-node cluster (``--topology cluster``),
measured in this one run, alternating the two.

    .venv/bin/python benchmarks/cluster_boot.py [--repeat 3]

A single server counts from spawn until SQL introspection answers (as ``RestateServer.start``).
The cluster counts from spawning its three nodes until every node answers SQL and every
partition has an active leader (``RestateCluster.wait_until_ready``, which reads leadership
with restatectl); the Toxiproxy server its links live on is started before the clock, as an
environment has it running already. Prints the median and range of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from harness.env.cleanup import Cleanup
from harness.env.links import ToxiproxyServer
from harness.env.restate.cluster import RestateCluster
from harness.env.restate.server import RestateServer
from harness.settings import Settings


def single(folder: Path, settings: Settings, cleanup: Cleanup) -> float:
    server = RestateServer(folder, settings=settings, cleanup=cleanup)
    began = time.perf_counter()
    try:
        server.start()
        return time.perf_counter() - began
    finally:
        server.stop()


def cluster(folder: Path, settings: Settings, cleanup: Cleanup, toxiproxy: ToxiproxyServer, run: int) -> float:
    def link(name: str, port: int):  # a fresh set of links per boot: names are unique per server
        return toxiproxy.link(f"{name}#{run}", port)

    nodes = RestateCluster(folder, settings=settings, cleanup=cleanup, link=link, extra_env={})
    began = time.perf_counter()
    try:
        nodes.spawn()
        nodes.wait_until_ready()
        return time.perf_counter() - began
    finally:
        nodes.stop()


def describe(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (range {min(values):.2f}-{max(values):.2f} s, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    settings = Settings()
    singles: list[float] = []
    clusters: list[float] = []
    with tempfile.TemporaryDirectory(prefix="rrh-bench-") as tmp, Cleanup() as cleanup:
        folder = Path(tmp)
        toxiproxy = ToxiproxyServer(folder, cleanup=cleanup, settings=settings)
        try:
            toxiproxy.start()
            for run in range(args.repeat):
                singles.append(single(folder / f"single-{run}", settings, cleanup))
                clusters.append(cluster(folder / f"cluster-{run}", settings, cleanup, toxiproxy, run))
                print(f"run {run + 1}: single {singles[-1]:.2f} s, cluster {clusters[-1]:.2f} s", flush=True)
        finally:
            toxiproxy.stop()
    print(f"single restate-server: {describe(singles)}")
    print(f"3-node cluster:        {describe(clusters)}")
    print(f"ratio (cluster / single, medians): {statistics.median(clusters) / statistics.median(singles):.1f}x")


if __name__ == "__main__":
    main()

"""How long a leader cut off both ways takes to be replaced, with the harness's cluster
settings (``FAILURE_DETECTION`` in ``harness/env/restate/cluster.py``) and with Restate's own
defaults, alternating the two in one run.

    .venv/bin/python benchmarks/partition_failover.py [--repeat 3]

Each round boots a 3-node cluster, reads the leader, cuts it from both other nodes both ways
(the packet filter, as ``partition_node`` does), and times the cut until another node leads at
a higher epoch (``RestateCluster.leaders``, sampled every 0.2 s); then heals and stops. Prints
each round, the medians and their ratio. Needs root (iptables, cgroups).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cluster_boot import describe  # a benchmark runs as a script: its folder is on sys.path
from harness.env.cleanup import Cleanup
from harness.env.links import ToxiproxyServer
from harness.env.packet_filter import why_unavailable
from harness.env.restate.cluster import FAILURE_DETECTION, RestateCluster
from harness.settings import Settings

# restate-server 1.7.12's own values of the settings the harness shortens (--dump-config).
RESTATE_DEFAULTS = {
    "RESTATE_GOSSIP_SUSPECT_INTERVAL": "5s",
    "RESTATE_ADMIN__HEARTBEAT_INTERVAL": "1500ms",
    "RESTATE_NETWORKING__HTTP2_KEEP_ALIVE_TIMEOUT": "3s",
    "RESTATE_METADATA_CLIENT__KEEP_ALIVE_INTERVAL": "5s",
    "RESTATE_METADATA_CLIENT__KEEP_ALIVE_TIMEOUT": "5s",
}
assert set(RESTATE_DEFAULTS) == {name for name, _ in FAILURE_DETECTION}


def failover(folder: Path, settings: Settings, cleanup: Cleanup, toxiproxy: ToxiproxyServer, run: str,
             extra_env: dict[str, str], limit_s: float = 60.0) -> float:
    cluster = RestateCluster(folder, settings=settings, cleanup=cleanup, extra_env=extra_env,
                             link=lambda name, port: toxiproxy.link(f"{name}#{run}", port))
    cuts = []
    try:
        cluster.spawn().wait_until_ready()
        [(leader, epoch)] = cluster.leaders().values()
        others = [n for n in cluster.node_names() if n != leader]
        cuts = [cluster.cut_between(a, b) for o in others for a, b in ((leader, o), (o, leader))]
        began = time.perf_counter()
        cluster.cut(cuts)
        while time.perf_counter() - began < limit_s:
            now = cluster.leaders().get(0)
            if now is not None and now[0] != leader and now[1] > epoch:
                return time.perf_counter() - began
            time.sleep(0.2)
        return float("inf")
    finally:
        cluster.heal([c.label for c in cuts])
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    reason = why_unavailable()
    if reason is not None:
        print(f"cannot measure: {reason}", file=sys.stderr)
        raise SystemExit(2)
    settings = Settings()
    fast: list[float] = []
    default: list[float] = []
    with tempfile.TemporaryDirectory(prefix="rrh-bench-") as tmp, Cleanup() as cleanup:
        folder = Path(tmp)
        toxiproxy = ToxiproxyServer(folder, cleanup=cleanup, settings=settings)
        try:
            toxiproxy.start()
            for run in range(args.repeat):
                fast.append(failover(folder / f"fast-{run}", settings, cleanup, toxiproxy, f"f{run}", {}))
                default.append(failover(folder / f"default-{run}", settings, cleanup, toxiproxy, f"d{run}",
                                        RESTATE_DEFAULTS))
                print(f"run {run + 1}: harness settings {fast[-1]:.1f} s, Restate's defaults {default[-1]:.1f} s",
                      flush=True)
        finally:
            toxiproxy.stop()
    print(f"harness settings:  {describe(fast)}")
    print(f"Restate defaults:  {describe(default)}")
    print(f"ratio (defaults / harness, medians): {statistics.median(default) / statistics.median(fast):.1f}x")


if __name__ == "__main__":
    main()

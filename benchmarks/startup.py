"""How long the whole stack takes to come up, against a bare restate-server start.

    .venv/bin/python benchmarks/startup.py [--repeat 5]

Prints the median and range of: a bare restate-server (start until SQL answers), the local
environment (Toxiproxy, restate-server, fake LLM, the router, registered) and the remote one
(plus three specialists, one in TypeScript).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from harness.env.cleanup import Cleanup
from harness.env.environment import Environment
from harness.env.restate.server import RestateServer
from harness.settings import Settings
from harness.catalogue import catalogue_module


def timed(start_and_stop) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    start_and_stop()
    return time.perf_counter() - began


def bare_restate(folder: Path, settings: Settings, cleanup: Cleanup) -> float:
    server = RestateServer(folder, settings=settings, cleanup=cleanup)
    began = time.perf_counter()
    server.start()
    took = time.perf_counter() - began
    server.stop()
    return took


def environment(folder: Path, agents, settings: Settings, cleanup: Cleanup) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    with Environment(agents, folder, settings=settings, cleanup=cleanup):
        took = time.perf_counter() - began
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    settings = Settings.from_environ(os.environ)  # RESTATE_SERVER_BIN and friends, as the CLI reads them
    with tempfile.TemporaryDirectory() as tmp, Cleanup() as cleanup:
        root = Path(tmp)
        rows = {
            "bare restate-server": [bare_restate(root / f"bare{i}", settings, cleanup) for i in range(args.repeat)],
            "local environment (1 agent)": [
                environment(root / f"local{i}", (catalogue_module("agents").LOCAL_ROUTER,), settings, cleanup) for i in range(args.repeat)
            ],
            "remote environment (4 agents)": [
                environment(root / f"remote{i}", catalogue_module("agents").REMOTE_AGENTS, settings, cleanup) for i in range(args.repeat)
            ],
        }
    for name, times in rows.items():
        print(f"{name:32} median {statistics.median(times):.2f}s  min {min(times):.2f}s  max {max(times):.2f}s  (n={len(times)})")


if __name__ == "__main__":
    main()

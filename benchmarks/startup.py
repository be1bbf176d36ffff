"""How long the whole stack takes to come up, against a bare restate-server start, and
what a scenario pays instead when it reuses an environment an earlier one left clean.

    .venv/bin/python benchmarks/startup.py [--repeat 5]

Prints, with the median and range of each, measured in this one run: a bare restate-server
(start until SQL answers); the local environment (Toxiproxy, restate-server, fake LLM, the
router, registered) and the remote one (plus three specialists, one in TypeScript), each
with its ratio to the bare server and where its start-up went; and the recycling of a used
remote environment (clear and check clean: ``Environment.recycle``); and both stacks again
with our Python servers forked from a warm fork server (``harness.env.forkserver``), as
``run`` and ``validate`` do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from harness.catalogue import catalogue_module
from harness.env.cleanup import Cleanup
from harness.env.environment import Environment
from harness.env.forkserver import ForkServer
from harness.env.restate.server import RestateServer
from harness.settings import Settings
from harness.timing import Phases
from harness.workload import Requests


def bare_restate(folder: Path, settings: Settings, cleanup: Cleanup) -> float:
    server = RestateServer(folder, settings=settings, cleanup=cleanup)
    began = time.perf_counter()
    server.start()
    took = time.perf_counter() - began
    server.stop()
    return took


def environment(folder: Path, agents, settings: Settings, cleanup: Cleanup, phases: Phases,  # type: ignore[no-untyped-def]
                launcher: ForkServer | None = None) -> float:
    began = time.perf_counter()
    with Environment(agents, folder, settings=settings, cleanup=cleanup, launcher=launcher) as env:
        took = time.perf_counter() - began
        phases.update(env.phases)
    return took


def recycle(folder: Path, agents, settings: Settings, cleanup: Cleanup, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Use the environment (one request), then time its recycling; ``repeat`` times."""
    times = []
    with Environment(agents, folder, settings=settings, cleanup=cleanup) as env:
        for _ in range(repeat):
            sent = Requests("RemoteAgentRouter", "answer", "Where is my refund?").send(env.ingress)
            env.ingress.attach(sent[0].invocation_id, timeout_s=30)
            began = time.perf_counter()
            problems = env.recycle()
            times.append(time.perf_counter() - began)
            assert not problems, problems
    return times


def line(name: str, times: list[float], bare: float | None = None) -> str:
    median = statistics.median(times)
    ratio = f"  = {median / bare:.1f}x bare" if bare else ""
    return f"{name:34} median {median:.2f}s  min {min(times):.2f}s  max {max(times):.2f}s  (n={len(times)}){ratio}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    settings = Settings.from_environ(os.environ)  # RESTATE_SERVER_BIN and friends, as the CLI reads them
    agents = catalogue_module("agents")
    with tempfile.TemporaryDirectory() as tmp, Cleanup() as cleanup:
        root = Path(tmp)
        bare = [bare_restate(root / f"bare{i}", settings, cleanup) for i in range(args.repeat)]
        local_phases, remote_phases = Phases(), Phases()
        local = [environment(root / f"local{i}", (agents.LOCAL_ROUTER,), settings, cleanup, local_phases)
                 for i in range(args.repeat)]
        remote = [environment(root / f"remote{i}", agents.REMOTE_AGENTS, settings, cleanup, remote_phases)
                  for i in range(args.repeat)]
        recycled = recycle(root / "recycle", agents.REMOTE_AGENTS, settings, cleanup, args.repeat)
        warm_phases = Phases()
        began = time.perf_counter()
        with ForkServer(cleanup) as launcher:
            first = environment(root / "warm-first", agents.REMOTE_AGENTS, settings, cleanup, Phases(), launcher)
            fork_server_s = time.perf_counter() - began - first
            warm_local = [environment(root / f"warm-local{i}", (agents.LOCAL_ROUTER,), settings, cleanup, Phases(), launcher)
                          for i in range(args.repeat)]
            warm_remote = [environment(root / f"warm-remote{i}", agents.REMOTE_AGENTS, settings, cleanup, warm_phases,
                                       launcher) for i in range(args.repeat)]
    base = statistics.median(bare)
    print(line("bare restate-server", bare))
    print(line("local environment (1 agent)", local, base))
    print(line("remote environment (4 agents)", remote, base))
    print(line("remote environment, recycled", recycled, base))
    print(line("local, Python servers forked warm", warm_local, base))
    print(line("remote, Python servers forked warm", warm_remote, base))
    print(f"  (the fork server's first environment took {first:.2f}s, the fork server itself {fork_server_s:.2f}s more, "
          "once per run)")
    for name, phases in (("local", local_phases), ("remote", remote_phases), ("remote forked", warm_phases)):
        parts = ", ".join(f"{part} {seconds / args.repeat:.2f}s" for part, seconds in phases.seconds.items())
        print(f"  {name} start-up, mean per start: {parts}")


if __name__ == "__main__":
    main()

"""How long ``validate`` takes, per agent, budget and worker count, measured in the same run
(target: quick ≤ 30 s for a one-deployment agent with 2 workers; full ≤ 5 min). The agents:
the reference local router, and fifteen lines with the default openai client, whose hung
call only Restate's abort ends (the slowest probe a correct agent meets).

    .venv/bin/python benchmarks/validate_speed.py [--agents router docs] [--budgets quick full] [--workers 1 2]

Prints, per agent, budget and worker count: wall time, runs in the plan, seconds per run,
the verdict, and the ratio of each time to the one-worker time of its budget.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from harness.env.binaries import PROJECT_ROOT
from harness.env.cleanup import Cleanup
from harness.settings import Settings
from harness.validate.run import validate_agent
from harness.validate.agent import parse_agent_under_test

AGENTS = {  # name -> (command, folder it runs in)
    "router": (f"{sys.executable} -m harness.serve agents.local_router:app --port {{port}}", PROJECT_ROOT),
    "docs": (f"{sys.executable} -m hypercorn app:app --bind 127.0.0.1:{{port}}",
             PROJECT_ROOT / "agents" / "validation" / "docs_default_client"),
}
QUICK_TARGET_S = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    parser.add_argument("--budgets", nargs="+", default=["quick", "full"], choices=["quick", "full"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args()
    settings = Settings.from_environ(os.environ)  # read once, at the edge
    print(f"{'agent':<8}{'budget':<7}{'workers':>8}{'wall s':>9}{'runs':>6}{'s/run':>7}{'ratio':>7}  verdict")
    with Cleanup() as cleanup, tempfile.TemporaryDirectory(prefix="rrh-validate-bench-") as tmp:
        for agent in args.agents:
            command, folder = AGENTS[agent]
            target = parse_agent_under_test([command], [], cwd=str(folder))
            for budget in args.budgets:
                first: float | None = None
                for workers in args.workers:
                    began = time.perf_counter()
                    out = Path(tmp) / f"{agent}-{budget}-{workers}"
                    validation = validate_agent(target, out, budget=budget, say=lambda _: None, settings=settings,
                                                cleanup=cleanup, workers=workers)
                    took = time.perf_counter() - began
                    first = first or took
                    runs = len(validation.plan)
                    target_note = (f"  (target {QUICK_TARGET_S:.0f} s: {'met' if took <= QUICK_TARGET_S else 'MISSED'})"
                                   if budget == "quick" and workers == 2 else "")
                    print(f"{agent:<8}{budget:<7}{workers:>8}{took:>9.1f}{runs:>6}{took / max(runs, 1):>7.1f}"
                          f"{took / first:>7.2f}  {validation.summary()}{target_note}", flush=True)


if __name__ == "__main__":
    main()

"""How long ``validate`` takes on the reference local router, per budget, one run at a time
and side by side, measured in the same run (targets: quick ≤ 60 s, full ≤ 5 min).

    .venv/bin/python benchmarks/validate_speed.py [--budgets quick full] [--workers 1 2]

Prints, per budget and worker count: wall time, runs in the plan, seconds per run, the
verdict, and the ratio of each time to the one-worker time of its budget.
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
from harness.validate.target import parse_target

ROUTER = f"{sys.executable} -m harness.serve agents.local_router:app --port {{port}}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", nargs="+", default=["quick", "full"], choices=["quick", "full"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args()
    settings = Settings.from_environ(os.environ)  # read once, at the edge
    target = parse_target([ROUTER], [], cwd=str(PROJECT_ROOT))
    print(f"{'budget':<7}{'workers':>8}{'wall s':>9}{'runs':>6}{'s/run':>7}{'ratio':>7}  verdict")
    with Cleanup() as cleanup, tempfile.TemporaryDirectory(prefix="rrh-validate-bench-") as tmp:
        for budget in args.budgets:
            first: float | None = None
            for workers in args.workers:
                began = time.perf_counter()
                out = Path(tmp) / f"{budget}-{workers}"
                validation = validate_agent(target, out, budget=budget, say=lambda _: None, settings=settings,
                                      cleanup=cleanup, workers=workers)
                took = time.perf_counter() - began
                first = first or took
                runs = len(validation.plan)
                verdict = "green" if validation.green else "findings"
                print(f"{budget:<7}{workers:>8}{took:>9.1f}{runs:>6}{took / max(runs, 1):>7.1f}{took / first:>7.2f}  {verdict}",
                      flush=True)


if __name__ == "__main__":
    main()

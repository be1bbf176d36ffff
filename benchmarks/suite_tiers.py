"""How long each test tier takes on this machine, measured in the same run (targets: the PR
tier, ``pytest -m "not slow" -n 2``, within 150 s; the full suite, the README's test command,
within 10 min). Each tier runs in a subprocess, as a user would start it.

    .venv/bin/python benchmarks/suite_tiers.py [--tiers pr full] [--workers 2] [-- PYTEST_ARGS...]

Arguments after ``--`` go to every tier's pytest (``-- --durations=30`` lists the slowest tests).

Prints, per tier: wall time, tests passed and failed, the target and whether it was met, and
the ratio of each tier's time to the PR tier's.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIERS = {  # name -> (extra pytest arguments, target in seconds)
    "pr": (["-m", "not slow"], 150.0),
    "full": ([], 600.0),
}
COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected)")


@dataclass(frozen=True)
class TierTime:
    tier: str
    wall_s: float
    counts: dict[str, int]
    exit_code: int

    def met(self) -> bool:
        return self.exit_code == 0 and self.wall_s <= TIERS[self.tier][1]


def time_tier(tier: str, workers: int, passed_on: list[str]) -> TierTime:
    extra, _ = TIERS[tier]
    command = [sys.executable, "-m", "pytest", "-q", "-n", str(workers), "-p", "no:cacheprovider", *extra, *passed_on]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - began
    lines = done.stdout.strip().splitlines()
    summary = lines[-1] if lines else ""
    if "--durations" in " ".join(passed_on):
        print("\n".join(line for line in lines if " call " in line or " setup " in line), flush=True)
    counts = {kind.rstrip("s") if kind.startswith("error") else kind: int(n) for n, kind in COUNTS.findall(summary)}
    if done.returncode != 0:
        print(done.stdout[-3000:], file=sys.stderr)
    return TierTime(tier, took, counts, done.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiers", nargs="+", default=list(TIERS), choices=list(TIERS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --)")
    args = parser.parse_args()
    print(f"{'tier':<6}{'wall s':>9}{'passed':>8}{'failed':>8}{'target s':>10}{'ratio':>7}  met")
    first: float | None = None
    for tier in args.tiers:
        timed = time_tier(tier, args.workers, args.pytest_args)
        first = first or timed.wall_s
        failed = timed.counts.get("failed", 0) + timed.counts.get("error", 0)
        print(f"{tier:<6}{timed.wall_s:>9.1f}{timed.counts.get('passed', 0):>8}{failed:>8}"
              f"{TIERS[tier][1]:>10.0f}{timed.wall_s / first:>7.2f}  {'yes' if timed.met() else 'NO'}", flush=True)


if __name__ == "__main__":
    main()

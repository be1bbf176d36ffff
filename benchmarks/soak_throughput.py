"""Soak throughput with and without faults.

    .venv/bin/python benchmarks/soak_throughput.py [--n 200] [--router local] [--seed 11]

Runs the soak twice, fault-free and under a seeded random schedule, and prints requests
per second from the first request accepted to the last completion, with the verdicts and
the LLM-call accounting.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness.scenario import run_scenario
from scenarios.random_schedules import random_faults


def throughput(result) -> float:  # type: ignore[no-untyped-def]
    created = [t["created_s"] for t in result.timeline if t["created_s"] is not None and t["parent"] is None]
    completed = [t["completed_s"] for t in result.timeline if t["completed_s"] is not None and t["parent"] is None]
    span = max(completed) - min(created)
    return len(completed) / span if span > 0 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--router", choices=["local", "remote"], default="local")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--faults", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, faults in (("fault-free", 0), (f"{args.faults} faults, seed {args.seed}", args.faults)):
            scenario = random_faults(args.router, n=args.n, seed=args.seed, faults=faults)
            result = run_scenario(scenario, Path(tmp) / label.replace(" ", "-"))
            print(
                f"{args.router} {label:22} {result.verdict:8} {throughput(result):6.1f} req/s  "
                f"completed {result.invocations['completed']}/{result.invocations['sent']}  "
                f"llm {result.llm_calls}  recovery {result.recovery_s}"
            )


if __name__ == "__main__":
    main()

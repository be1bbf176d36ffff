"""Soak throughput with and without faults.

    .venv/bin/python benchmarks/soak_throughput.py [--n 200] [--router local] [--seed 11]

Runs the soak three times: all requests at once without faults (peak throughput), then
spread over the schedule's length without and with the seeded random schedule (same send
rate, so the two compare). Prints requests per second from the first request accepted to
the last completion, request latency (p50/p95), the verdicts and the LLM-call accounting.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness.catalogue import catalogue_module
from harness.runner.scenario import run_scenario


def latencies(result) -> list[float]:  # type: ignore[no-untyped-def]
    return sorted(
        t["completed_s"] - t["created_s"]
        for t in result.timeline
        if t["parent"] is None and t["completed_s"] is not None and t["created_s"] is not None
    )


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
    spread = 1.3 * args.faults
    runs = (("all at once, no faults", 0, 0.0), (f"over {spread:.1f}s, no faults", 0, spread),
            (f"over {spread:.1f}s, {args.faults} faults", args.faults, spread))
    with tempfile.TemporaryDirectory() as tmp:
        for label, faults, spread_s in runs:
            scenario = catalogue_module("random_schedules").random_faults(args.router, n=args.n, seed=args.seed, faults=faults, spread_s=spread_s)
            result = run_scenario(scenario, Path(tmp) / str(len(label)) / label.replace(" ", "-"))
            lat = latencies(result)
            p50, p95 = (lat[len(lat) // 2], lat[int(len(lat) * 0.95)]) if lat else (float("nan"), float("nan"))
            print(
                f"{args.router} {label:28} {result.verdict:5} {throughput(result):6.1f} req/s  "
                f"latency p50 {p50:.2f}s p95 {p95:.2f}s  completed {result.invocations['completed']}/"
                f"{result.invocations['sent']}  llm {result.llm_calls}  recovery {result.recovery_s}"
            )


if __name__ == "__main__":
    main()

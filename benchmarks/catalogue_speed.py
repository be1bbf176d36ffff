"""The whole catalogue, three ways in one run: a fresh environment per scenario (as before
environments were reused), reused environments (the default), and reused with two workers.

    .venv/bin/python benchmarks/catalogue_speed.py [--workers 2] [--only fresh,reused,workers]

Prints each way's wall time and its ratio to the fresh one, that the verdicts are the same
in all three, and where the time went per scenario family (the sum of each phase over the
family's scenarios, from ``phases_s`` in results.json): environment start-up or reuse,
faults, workload, waiting for completion, observation (SQL), judging, teardown.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

FAMILIES = ("baseline", "process", "server", "link", "llm", "random")


def run_catalogue(out: Path, *options: str) -> tuple[float, list[dict]]:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness", "run", "--out", str(out), *options],
                          capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode not in (0, 1):
        sys.exit(f"harness run {' '.join(options)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return wall, json.loads((out / "latest" / "results.json").read_text())["scenarios"]


def family(scenario: dict) -> str:
    return next((tag for tag in FAMILIES if tag in scenario.get("tags", ())), "other")


def phase_table(scenarios: list[dict]) -> list[str]:
    by_family: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[str, int] = defaultdict(int)
    for s in scenarios:
        counts[family(s)] += 1
        for phase, seconds in (s.get("phases_s") or {}).items():
            by_family[family(s)][phase] += seconds
    lines = []
    for name in sorted(by_family, key=lambda f: -sum(by_family[f].values())):
        parts = sorted(by_family[name].items(), key=lambda kv: -kv[1])
        lines.append(f"    {name:9} ({counts[name]:2} scenarios) " + ", ".join(f"{p} {v:.1f}s" for p, v in parts if v >= 0.05))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="fresh,reused,workers")
    args = parser.parse_args()
    ways = {"fresh": ["--fresh"], "reused": [], "workers": ["--workers", str(args.workers)]}
    chosen = [w for w in args.only.split(",") if w in ways]
    results: dict[str, tuple[float, list[dict]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for way in chosen:
            results[way] = run_catalogue(Path(tmp) / way, *ways[way])
    baseline = results.get("fresh", next(iter(results.values())))[0]
    verdicts = {way: [(s["name"], s["agent"], s["verdict"]) for s in scenarios] for way, (_, scenarios) in results.items()}
    for way, (wall, scenarios) in results.items():
        label = {"fresh": "fresh environment per scenario", "reused": "reused environments",
                 "workers": f"reused, {args.workers} workers"}[way]
        good = sum(s["verdict"] in ("pass", "expected failure") for s in scenarios)
        print(f"{label:32} {wall:6.1f}s wall  = {wall / baseline:.2f}x fresh   {good}/{len(scenarios)} as expected")
        print("\n".join(phase_table(scenarios)))
    same = len({tuple(v) for v in verdicts.values()}) == 1
    print(f"verdicts identical in every way: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()

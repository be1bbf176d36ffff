"""Recovery time per fault kind, from a saved run.

    .venv/bin/python benchmarks/recovery_by_fault_kind.py [reports/latest/results.json]

Recovery is from a fault healing to the last request it held up completing; a scenario
with several fault kinds counts under each.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/latest/results.json")
    scenarios = json.loads(path.read_text())["scenarios"]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for s in scenarios:
        if s.get("recovery_s") is None:
            continue
        for kind in {f["kind"] for f in s["faults"]}:
            by_kind[kind].append(s["recovery_s"])
    for kind, values in sorted(by_kind.items()):
        print(f"{kind:22} n={len(values):2}  median {statistics.median(values):.2f}s  min {min(values):.2f}s  max {max(values):.2f}s")


if __name__ == "__main__":
    main()

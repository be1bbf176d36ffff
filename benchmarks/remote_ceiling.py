"""The remote router's soak throughput against its ceiling: the same stack (restate-server,
Toxiproxy links, harness.serve, the workload and the observer) serving trivial handlers.

    .venv/bin/python benchmarks/remote_ceiling.py [--n 1000]

Sends ``n`` requests at once, fault-free, to (1) the remote router (``RemoteAgentRouter.answer``,
with its four deployments), (2) ``Ceiling.answer``, a handler that answers at once, and
(3) ``CeilingRouter.answer`` calling ``CeilingBilling.run`` in another deployment (the
router's call graph without its LLM calls, steps and refund). Prints requests per second
(first request accepted to last completion) and the ratio of the router's figure to each
ceiling, with the LLM-call accounting (a wasted call in a fault-free run is a finding).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from soak_throughput import latencies, throughput  # type: ignore[import-not-found]

from harness.catalogue import catalogue_module
from harness.checker.checks import AllCompleted, NoJournalMismatch
from harness.env.binaries import PROJECT_ROOT
from harness.env.environment import python_app
from harness.runner.scenario import Scenario, run_scenario
from harness.workload import Requests


def ceiling(n: int, *, two_hops: bool) -> Scenario:
    """``n`` requests at once to a trivial handler, deployed as the remote router is."""
    if two_hops:
        agents = (python_app("router", "benchmarks.trivial_agents:router_app", ["CeilingRouter"], cwd=PROJECT_ROOT, label="ceiling-2-hops"),
                  python_app("billing", "benchmarks.trivial_agents:billing_app", ["CeilingBilling"], cwd=PROJECT_ROOT))
    else:
        agents = (python_app("router", "benchmarks.trivial_agents:ceiling_app", ["Ceiling"], cwd=PROJECT_ROOT, label="ceiling"),)
    return Scenario(
        name="ceiling-2-hops" if two_hops else "ceiling",
        description=f"{n} requests at once to a trivial handler",
        agents=agents,
        script=lambda llm: None,
        workload=Requests("CeilingRouter" if two_hops else "Ceiling", "answer", "ping", n=n),
        checks=(AllCompleted("done"), NoJournalMismatch()),
        deadline_s=120.0 + n * 0.2,
        inactivity_timeout_s=10.0 if n > 50 else None,  # as the soak's
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    soak = catalogue_module("random_schedules").random_faults("remote", n=args.n, seed=args.seed, faults=0, spread_s=0.0)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rrh-ceiling-") as tmp:
        for label, scenario in (("remote router", soak), ("ceiling: 1 trivial handler", ceiling(args.n, two_hops=False)),
                                ("ceiling: trivial router -> trivial billing", ceiling(args.n, two_hops=True))):
            result = run_scenario(scenario, Path(tmp) / scenario.name)
            figures[label] = rate = throughput(result)
            lat = latencies(result)
            p50, p95 = (lat[len(lat) // 2], lat[int(len(lat) * 0.95)]) if lat else (float("nan"), float("nan"))
            verdict = result.verdict if scenario is soak else "-"  # a ceiling makes no LLM call: "unknown"
            print(f"{label:44} {verdict:7} {rate:6.1f} req/s  latency p50 {p50:.2f}s p95 {p95:.2f}s  "
                  f"completed {result.invocations['completed']}/{result.invocations['sent']}  llm {result.llm_calls}", flush=True)
            for error in result.errors if scenario is soak else ():
                print(f"    {error.splitlines()[0]}")
    router = figures["remote router"]
    for label, rate in figures.items():
        if label != "remote router":
            print(f"remote router / {label}: {router / rate:.2f}")


if __name__ == "__main__":
    main()

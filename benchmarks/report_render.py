"""Size of a saved report and its time to load in headless Chromium.

    .venv/bin/python benchmarks/report_render.py [reports/latest/index.html] [--repeat 5]
    .venv/bin/python benchmarks/report_render.py --soak 1000 [--faults 6]

With ``--soak N`` it first builds a report of a soak of N requests under a fault schedule
(a synthetic history, judged by the real judge: timeline, journal, ledger and the per-fault
impact section), in a temporary folder it removes afterwards, and prints how long the
report took to write. The budget: one self-contained HTML file under 3 MB that loads in
under 2 s.

Needs Debian's chromium (/usr/bin/chromium); the browser test installs it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
T0 = 1_795_600_000.0
FAULT_KINDS = [("kill", "router"), ("partition", "router->llm"), ("llm_429", "llm"), ("terminate", "restate"),
               ("reset_peer", "restate->router"), ("llm_429", "llm")]


def soak_history(n: int, faults: int, seed: int = 11):  # type: ignore[no-untyped-def]
    """A soak as the runner would record it: ``n`` requests to the local router spread over
    the schedule, each with two LLM calls and six journal entries; requests caught by a fault
    finish after its healing (one wasted LLM call each), a few fail, a few never finish."""
    from harness.history import LLMCall
    from harness.history import FaultRecord, History, Invocation, JournalEntry, Request

    rng = random.Random(seed)
    spread = max(1.3 * faults, n / 50)
    windows = [(spread * (i + 0.5) / max(faults, 1), spread * (i + 0.5) / max(faults, 1) + rng.uniform(0.6, 1.4))
               for i in range(faults)]
    h = History(started_at=T0, planned_faults=faults)
    h.faults = [FaultRecord(*FAULT_KINDS[i % len(FAULT_KINDS)], T0 + a, T0 + b) for i, (a, b) in enumerate(windows)]
    call_id = 0

    def llm(at: float, end: float | None, token: str, fingerprint: str, outcome: str = "ok") -> LLMCall:
        nonlocal call_id
        call_id += 1
        return LLMCall(call_id, T0 + at, None if end is None else T0 + end, None, None if end else T0 + at + 0.2, False,
                       token, fingerprint, "gpt-4o-mini", 0, 200, outcome, False, {"model": "gpt-4o-mini"},
                       {"choices": [{"message": {"content": "I have refunded the duplicate charge."}}]},
                       {"prompt_tokens": 52, "completion_tokens": 12, "total_tokens": 64})

    for k in range(n):
        start = spread * k / n
        token, inv = f"rrh-{k:06d}", f"inv_{k:06d}"
        held = next(((a, b) for a, b in windows if a - 0.1 <= start <= b), None)
        done = (held[1] + rng.uniform(0.1, 0.8)) if held else start + rng.uniform(0.05, 0.15)
        status, result = "completed", "success"
        if rng.random() < 0.01:
            result = "failure"
        elif held and rng.random() < 0.02:
            status, result = "backing-off", None
        h.requests.append(Request(token, f"I was charged twice [{token}]", inv, token, T0 + start + 0.004))
        h.invocations.append(Invocation(inv, status, "AgentRouter/answer", T0 + start,
                                        T0 + done if status == "completed" else None, result,
                                        "boom" if result == "failure" else None, idempotency_key=token))
        entries = [("Command: Input", "", start, {"Command": {"Input": {}}}),
                   ("Command: Run", "route", start + 0.001, {"Command": {"Run": {"completion_id": 1, "name": "route"}}}),
                   ("Notification: Run", "", start + 0.011, {"Notification": {"id": {"CompletionId": 1}, "result": "Success"}}),
                   ("Command: Run", "ask BillingAgent", start + 0.012,
                    {"Command": {"Run": {"completion_id": 2, "name": "ask BillingAgent"}}})]
        h.llm_calls.append(llm(start + 0.002, start + 0.01, token, f"route-{k}"))
        if held:
            h.llm_calls.append(llm(start + 0.013, None, token, f"ask-{k}", outcome="disconnected"))
        if status == "completed":
            h.llm_calls.append(llm(done - 0.02, done - 0.01, token, f"ask-{k}"))
            entries += [("Notification: Run", "", done - 0.005, {"Notification": {"id": {"CompletionId": 2}, "result": "Success"}}),
                        ("Command: Output", "", done - 0.002, {"Command": {"Output": {"result": "Success"}}})]
        h.journal += [JournalEntry(inv, i, kind, name, T0 + at, detail) for i, (kind, name, at, detail) in enumerate(entries)]
        h.outputs[inv] = "I have refunded the duplicate charge; it will show within 5 days."
    return h


def build_soak_report(out: Path, n: int, faults: int) -> Path:
    from harness.checker.judge import RunInfo, judge
    from harness.report import write_report
    from harness.results.schema import BatchResults, ScenarioResult

    began = time.perf_counter()
    result = ScenarioResult.from_judgement(judge(
        RunInfo("soak-local", "local-router", f"{n} requests under {faults} faults", ("local", "soak")),
        soak_history(n, faults), []))
    result.reproduce = f"python -m harness soak --router local --n {n} --faults {faults} --seed 11"
    judged = time.perf_counter()
    run_dir = out / "20261126-000000"
    BatchResults({"batch_id": run_dir.name}, [result]).write(run_dir)
    path = write_report(run_dir, out)
    print(f"soak of {n} requests, {faults} faults: judged in {judged - began:.2f} s, report written in "
          f"{time.perf_counter() - judged:.2f} s; results.json {(run_dir / 'results.json').stat().st_size / 1024:.0f} KiB")
    return path


def measure(page_path: Path, repeat: int) -> None:
    loads, requests = [], set()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            for _ in range(repeat):
                page = browser.new_page()
                page.on("request", lambda r: requests.add(r.url.split(":", 1)[0]))
                began = time.perf_counter()
                page.goto(page_path.as_uri(), wait_until="load")
                loads.append(time.perf_counter() - began)
                page.close()
        finally:
            browser.close()
    print(f"{page_path}: {page_path.stat().st_size / 1024:.0f} KiB")
    print(f"load event: median {statistics.median(loads) * 1000:.0f} ms, min {min(loads) * 1000:.0f} ms, "
          f"max {max(loads) * 1000:.0f} ms (n={len(loads)}); request schemes: {sorted(requests)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", nargs="?", default="reports/latest/index.html")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--soak", type=int, metavar="N", help="build and measure the report of a soak of N requests")
    parser.add_argument("--faults", type=int, default=6, help="the soak's fault windows (default 6)")
    args = parser.parse_args()
    if args.soak:
        with tempfile.TemporaryDirectory(prefix="report-render-") as tmp:
            measure(build_soak_report(Path(tmp), args.soak, args.faults).resolve(), args.repeat)
    else:
        measure(Path(args.report).resolve(), args.repeat)


if __name__ == "__main__":
    main()

"""Command line: ``python -m harness run`` runs the scenario catalogue against the
reference agents and writes ``reports/latest/results.json`` and ``index.html``.

Exit codes: 0 when every verdict is as expected, 1 when a scenario failed or could not
be judged, 2 for bad input (one line, no traceback)."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from pathlib import Path

from . import binaries, versions
from .binaries import PROJECT_ROOT
from .errors import HarnessError
from .results import ScenarioResult, write_results
from .scenario import Scenario, run_scenario


def _select(names: list[str]) -> list[Scenario]:
    from scenarios import CATALOGUE

    if not names:
        return list(CATALOGUE)
    known = {s.name for s in CATALOGUE}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise HarnessError(f"unknown scenario {', '.join(unknown)}; `python -m harness list` shows them")
    return [s for s in CATALOGUE if s.name in names]


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM tears down like Ctrl-C


def run(args: argparse.Namespace) -> int:
    scenarios = _select(args.scenario)
    binaries.restate_server(), binaries.toxiproxy_server()  # fail fast, with the install hint
    run_id = time.strftime("%Y%m%d-%H%M%S")
    out_root = Path(args.out)
    run_dir = out_root / run_id
    meta: dict[str, object] = {"run_id": run_id, "started_at": time.time()}
    results: list[ScenarioResult] = []
    try:
        meta["versions"] = versions.collect()
        for scenario in scenarios:
            print(f"{scenario.name} [{scenario.agent_label}] ...", end=" ", flush=True)
            result = run_scenario(scenario, run_dir)
            results.append(result)
            write_results(results, run_dir, meta)
            print(f"{result.verdict} ({result.duration_s:.1f}s, llm {result.llm_calls}, recovery {result.recovery_s})")
            for error in result.errors:
                print(f"    {error.splitlines()[0] if error else ''}")
    except KeyboardInterrupt:
        print("\ninterrupted: environments torn down; results so far are kept", file=sys.stderr)
        meta["interrupted"] = True
        if results:
            write_results(results, run_dir, meta)
        _point_latest(out_root, run_dir)
        return 130
    meta["finished_at"] = time.time()
    write_results(results, run_dir, meta)
    latest = _point_latest(out_root, run_dir)
    print(f"results: {latest / 'results.json'}\nreport:  {latest / 'index.html'}")
    return 0 if all(r.verdict in ("pass", "expected failure") for r in results) else 1


def _point_latest(out_root: Path, run_dir: Path) -> Path:
    latest = out_root / "latest"
    if latest.is_symlink() or latest.is_file():
        latest.unlink()
    elif latest.is_dir():
        shutil.rmtree(latest)
    if run_dir.exists():
        latest.symlink_to(run_dir.name)
    return latest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="restate-resilience", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run scenarios and write results")
    run_parser.add_argument("scenario", nargs="*", help="scenario names (default: the whole catalogue)")
    run_parser.add_argument("--out", default=str(PROJECT_ROOT / "reports"), help="where run folders go")
    sub.add_parser("list", help="list the scenarios")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        if args.command == "list":
            from scenarios import CATALOGUE

            for s in CATALOGUE:
                print(f"{s.name:45} {s.agent_label:20} {','.join(s.tags)}")
            return 0
        return run(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

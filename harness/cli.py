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
from .live import describe
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
    if args.seed is not None:
        scenarios = [s.with_seed(args.seed) for s in scenarios]
    return _run_all(scenarios, args)


def soak(args: argparse.Namespace) -> int:
    from scenarios.random_schedules import random_faults

    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    scenario = random_faults(args.router, n=args.n, seed=seed, faults=args.faults)
    print(f"soak: {args.n} requests to the {args.router} router, seed {seed}")
    for line in _schedule_lines(scenario):
        print(f"  {line}")
    print(f"  reproduce: python -m harness soak --router {args.router} --n {args.n} --faults {args.faults} --seed {seed}")
    return _run_all([scenario], args)


def _schedule_lines(scenario: Scenario) -> list[str]:
    return [describe(f) for f in scenario.faults]


def _run_all(scenarios: list[Scenario], args: argparse.Namespace) -> int:
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
            result = run_scenario(scenario, run_dir, always_replay=args.always_replay)
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


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: a seed is a whole number ≥ 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid seed {value}: a seed is a whole number ≥ 0")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="restate-resilience", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run scenarios and write results")
    run_parser.add_argument("scenario", nargs="*", help="scenario names (default: the whole catalogue)")
    soak_parser = sub.add_parser("soak", help="many concurrent requests under a seeded random fault schedule")
    soak_parser.add_argument("--router", choices=["local", "remote"], default="local")
    soak_parser.add_argument("--n", type=_positive, default=200, help="concurrent requests (default 200)")
    soak_parser.add_argument("--faults", type=_count, default=6, help="fault windows in the schedule (0: a fault-free baseline)")
    for p in (run_parser, soak_parser):
        p.add_argument("--out", default=str(PROJECT_ROOT / "reports"), help="where run folders go")
        p.add_argument("--seed", type=_seed, help="seed for random fault schedules (reproduces a run)")
        p.add_argument("--always-replay", action="store_true", help="inactivity timeout 0: every await suspends and replays")
    sub.add_parser("list", help="list the scenarios")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        if args.command == "list":
            from scenarios import CATALOGUE

            for s in CATALOGUE:
                print(f"{s.name:45} {s.agent_label:20} {','.join(s.tags)}")
            return 0
        return soak(args) if args.command == "soak" else run(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The command line, ``restate-resilience`` (or ``python -m harness``):

    list      the scenarios, with their agents, tags and fault kinds
    run       run a selection (names, --tag, --agent, --seed, --always-replay) and write
              results.json and the HTML report into reports/<batch-id>/ (reports/latest)
    soak      many concurrent requests under a seeded random fault schedule
    validate  validate an agent nobody scripted: every crash point, a diagnosis per bug class
    report    rebuild the HTML report from saved results
    install   the pinned restate-server and Toxiproxy, into a per-user cache

Exit codes: 0 when every verdict is as expected, 1 when a scenario failed or could not be
judged, 2 for bad input (one line, no traceback), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from harness.catalogue import catalogue_module
from harness.env import binaries, versions
from harness.env.cleanup import Cleanup
from harness.env.packet_filter import why_unavailable
from harness.nemesis.faults import describe
from harness.nemesis.strategies import decode_choices, with_schedule
from harness.results.reproduce import soak_command as soak_reproduce_command
from harness.results.schema import GOOD_VERDICTS, ScenarioResult
from harness.runner.batch import Batch
from harness.runner.pool import EnvironmentPool
from harness.runner.scenario import Scenario, run_scenario
from harness.runner.shrinking import shrink_scenario
from harness.settings import TOPOLOGIES, Settings, topology_options
from harness.validate.command import add_parser as add_validate_parser

from .errors import HarnessError

# Piped output (CI logs) gets a wide fixed width rather than rich's 80 columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, highlight=False)


# --- choosing scenarios -------------------------------------------------------------------


def load_scenarios(path: str | None, *, topology: str = "single", names: Sequence[str] = ()) -> list[Scenario]:
    """The catalogue (with the cluster scenarios on a cluster), or the ``SCENARIOS`` of a
    user's Python file."""
    if path is None:
        module = catalogue_module()
        if topology != "cluster":
            needing = sorted({s.name for s in module.CLUSTER_SCENARIOS} & set(names))
            if needing:
                raise HarnessError(f"{', '.join(needing)} runs on a Restate cluster: add --topology cluster")
            return list(module.CATALOGUE)
        return [*module.CATALOGUE, *module.CLUSTER_SCENARIOS]
    file = Path(path)
    if not file.is_file():
        raise HarnessError(f"scenario file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"_user_scenarios_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise HarnessError(f"malformed scenario file {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any error is bad input, said in one line
        raise HarnessError(f"malformed scenario file {path}: {type(exc).__name__}: {exc}") from None
    found = getattr(module, "SCENARIOS", None)
    if found is None:
        raise HarnessError(f"malformed scenario file {path}: it defines no SCENARIOS")
    scenarios = list(found) if isinstance(found, (list, tuple)) else []
    if not scenarios or not all(isinstance(s, Scenario) for s in scenarios):
        raise HarnessError(f"malformed scenario file {path}: SCENARIOS must be a non-empty list of harness.Scenario")
    return scenarios


EXTENDED = "extended"  # the tag of scenarios outside the default selection


def select(scenarios: Sequence[Scenario], names: Sequence[str], tags: Sequence[str], agents: Sequence[str]) -> list[Scenario]:
    """Scenarios matching every criterion given: one of ``names``, all ``tags``, one of ``agents``.
    Those tagged ``extended`` run only when named or when that tag is asked for: they keep
    the default selection within its minute."""
    _known("scenario", names, {s.name for s in scenarios})
    _known("tag", tags, {t for s in scenarios for t in s.tags})
    _known("agent", agents, {s.agent_label for s in scenarios})
    chosen = [
        s
        for s in scenarios
        if (not names or s.name in names)
        and all(t in s.tags for t in tags)
        and (names or EXTENDED in tags or EXTENDED not in s.tags)
        and (not agents or s.agent_label in agents)
    ]
    if not chosen:
        raise HarnessError("no scenario matches all of the given names, tags and agents")
    return chosen


def without_partitions_if_impossible(scenarios: Sequence[Scenario]) -> list[Scenario]:
    """The scenarios, less those that partition the network when this machine cannot (no
    root, no cgroup match in iptables): skipped, with one line saying why."""
    cutting = [s for s in scenarios if s.partitions]
    reason = why_unavailable() if cutting else None
    if reason is None:
        return list(scenarios)
    errors.print(f"skipping {len(cutting)} partition scenario(s): {reason}")
    return [s for s in scenarios if not s.partitions]


def _known(what: str, given: Sequence[str], known: set[str]) -> None:
    unknown = [g for g in given if g not in known]
    if unknown:
        raise HarnessError(f"unknown {what} {', '.join(unknown)}; known: {', '.join(sorted(known))}")


# --- commands -----------------------------------------------------------------------------


def list_command(args: argparse.Namespace) -> int:
    table = Table(box=None, pad_edge=False)
    table.add_column("scenario", no_wrap=True)
    table.add_column("agent", no_wrap=True)
    table.add_column("tags")
    table.add_column("fault kinds")
    for s in select(load_scenarios(args.scenarios, topology=_topology(args)), [], args.tag, args.agent):
        kinds = "random schedule" if s.schedule_for_seed else ", ".join(s.fault_kinds) or "none"
        table.add_row(s.name, s.agent_label, ", ".join(s.tags), kinds)
    console.print(table)
    return 0


def _topology(args: argparse.Namespace) -> str:
    """The topology the command line or RESILIENCE_TOPOLOGY asks for."""
    return Settings.from_environ(os.environ).choosing(topology=getattr(args, "topology", None)).topology


def run_command(args: argparse.Namespace) -> int:
    scenarios = select(load_scenarios(args.scenarios, topology=_topology(args), names=args.scenario), args.scenario,
                       args.tag, args.agent)
    scenarios = without_partitions_if_impossible(scenarios)
    if not scenarios:
        return 0
    if args.seed is not None:
        scenarios = [s.with_seed(args.seed) for s in scenarios]
    if args.schedule is not None:
        if not any(s.schedule_strategy is not None for s in scenarios):
            raise HarnessError("--schedule replays a random schedule, and none of the chosen scenarios has one")
        scenarios = [s.with_choices(args.schedule) for s in scenarios]
    return run_batch_of(scenarios, args)


def soak_command(args: argparse.Namespace) -> int:
    random_faults = catalogue_module("random_schedules").random_faults

    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    scenario = random_faults(args.router, n=args.n, seed=seed, faults=args.faults)
    reproduce = soak_reproduce_command(args.router, args.n, args.faults, seed, always_replay=args.always_replay)
    if args.schedule is not None:  # a shrunk soak: its plan replayed from the choices
        scenario = scenario.with_choices(args.schedule)
        reproduce = with_schedule(reproduce, args.schedule)
    console.print(f"soak: {args.n} requests to the {args.router} router, seed {seed}")
    for fault in scenario.faults:
        console.print(f"  {describe(fault)}")
    console.print(f"  reproduce: {reproduce}")
    return run_batch_of([scenario], args, reproduce=reproduce)


def install_command(args: argparse.Namespace) -> int:
    from harness.env.install import install

    home = Path(args.into) if args.into else Settings.from_environ(os.environ).tools_home
    for name, path in install(home, say=lambda line: console.print(line, markup=False)).items():
        console.print(f"{name}: {path}", markup=False)
    return 0


def report_command(args: argparse.Namespace) -> int:
    from .report import write_report

    target = Path(args.results)
    batch_dir = target.parent if target.name == "results.json" else target
    results = batch_dir / "results.json"
    try:
        json.loads(results.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read results from {results}: {exc}") from None
    path = write_report(batch_dir.resolve(), batch_dir.resolve().parent)
    console.print(f"report: {path}")
    return 0


def run_batch_of(scenarios: list[Scenario], args: argparse.Namespace, *, reproduce: str | None = None) -> int:
    """Run ``scenarios`` as one batch, into ``<out>/<batch-id>/``: a progress bar each,
    results.json rewritten after each, the report once at the end (or on Ctrl-C, with
    what was measured). The environment variables are read here, once (``Settings``);
    ``args.cleanup`` (made by ``main``) owns every process and temp dir of the batch."""
    settings = Settings.from_environ(os.environ).choosing(topology=args.topology, backend=args.backend)
    binaries.restate_server(settings), binaries.toxiproxy_server(settings)  # fail fast, with the install hint
    if settings.backend == "docker":  # an engine and the image, or one line and exit 2
        from harness.env.docker.images import preflight

        preflight(settings)
    batch_id = time.strftime("%Y%m%d-%H%M%S")
    out_root = Path(args.out)
    batch = Batch(out_root / batch_id, settings, args.cleanup, workers=args.workers, reuse=args.reuse,
                  meta={"batch_id": batch_id, "started_at": time.time(), "argv": sys.argv[1:]})
    try:
        batch.meta["versions"] = versions.collect(settings)
        batch.meta["workers"] = args.workers
        with batch, _bars() as bars:

            def run_one(scenario: Scenario, pool: EnvironmentPool) -> ScenarioResult:
                result = _run_one(scenario, batch.folder, args.always_replay, bars, settings=settings,
                                  cleanup=batch.cleanup, pool=pool)
                result.reproduce = reproduce or scenario.reproduce_command(
                    always_replay=args.always_replay, scenarios_file=getattr(args, "scenarios", None))
                if args.shrink_budget > 0 and result.verdict == "fail" and scenario.schedule_strategy is not None:
                    _shrink(scenario, result, batch.folder, args, bars, settings=settings, cleanup=batch.cleanup)
                return result

            batch.run(scenarios, run_one=run_one)
    except KeyboardInterrupt:
        errors.print("interrupted: environments torn down; results so far are kept", style="yellow")
        batch.meta["interrupted"] = True
        if batch.results:
            batch.publish()
        batch.point_latest(out_root)
        return 130
    batch.meta["finished_at"] = time.time()
    batch.publish()  # results.json again, and the report, once
    latest = batch.point_latest(out_root)
    _print_summary(batch.results)
    console.print(f"results: {latest / 'results.json'}\nreport:  {latest / 'index.html'}")
    return 0 if all(r.verdict in GOOD_VERDICTS for r in batch.results) else 1


def _bars() -> Progress:
    """The batch's progress bars: a bar a scenario, counting its completed requests."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console)


def _run_one(
    scenario: Scenario, batch_dir: Path, always_replay: bool, bars: Progress, *, settings: Settings, cleanup: Cleanup,
    pool: EnvironmentPool,
) -> ScenarioResult:
    """One scenario under a bar that counts completed requests; its status shows what was
    sent and which faults fired so far."""
    planned = len(scenario.faults)
    task = bars.add_task(escape(f"{scenario.name} [{scenario.agent_label}]"), total=scenario.workload.n, status="starting")
    counts = {"sent": 0, "faults": 0, "completed": 0}

    def on_progress(update: dict[str, int]) -> None:
        counts.update(update)
        status = f"sent {counts['sent']} · faults {counts['faults']}/{planned}"
        bars.update(task, completed=counts["completed"], status=status)

    result = run_scenario(
        scenario, batch_dir, always_replay=always_replay, on_progress=on_progress, settings=settings, cleanup=cleanup,
        pool=pool,
    )
    colour = "green" if result.verdict in GOOD_VERDICTS else "red"
    bars.update(task, completed=result.invocations.get("completed", 0), status=f"[{colour}]{result.verdict}[/]")
    for error in result.errors:
        bars.console.print(f"    {error.splitlines()[0] if error else ''}", markup=False)
    return result


def _shrink(
    scenario: Scenario, result: ScenarioResult, batch_dir: Path, args: argparse.Namespace, bars: Progress,
    *, settings: Settings, cleanup: Cleanup,
) -> None:
    """Search, for ``--shrink-budget`` seconds, for a smaller schedule that fails with the
    same finding; print it and keep it in ``result.shrunk``, next to the original."""
    smallest = {"faults": len(scenario.faults), "requests": scenario.workload.n}
    task = bars.add_task(escape(f"  shrinking {scenario.name} [{scenario.agent_label}]"), total=None, status="")

    def on_attempt(n: int, candidate: Scenario, failed: bool) -> None:
        if failed:
            smallest.update(faults=len(candidate.faults), requests=candidate.workload.n)
        bars.update(task, status=f"run {n} {'failed' if failed else 'passed'} · smallest: "
                    f"{smallest['faults']} faults, {smallest['requests']} requests")

    def run(candidate: Scenario, folder: Path) -> ScenarioResult:
        return run_scenario(candidate, folder, always_replay=args.always_replay, settings=settings, cleanup=cleanup)

    found = shrink_scenario(scenario, result, run, batch_dir / scenario.folder / "shrink", budget_s=args.shrink_budget,
                            on_attempt=on_attempt)
    if found is None:
        bars.update(task, total=1, completed=1, status="nothing to shrink")
        return
    reproduce = with_schedule(result.reproduce, found.example.choices) + " --shrink-budget 0"
    result.shrunk = found.to_json(reproduce)
    s = result.shrunk
    bars.update(task, total=1, completed=1, status=f"{s['attempts'] + s['confirm_runs']} runs, {s['time_s']:.0f} s")
    how = s["finding"].get("how") or s["finding"].get("bug_class")  # how a duplicate was repeated, else its class
    why = s["finding"]["check"] + (f" ({how})" if how else "")
    bars.console.print(
        f"    shrunk from {s['original']['faults']} faults and {s['original']['requests']} requests to "
        f"{len(s['schedule'])} and {s['requests']} in {s['attempts'] + s['confirm_runs']} runs, {s['time_s']:.0f} s"
        f"{'' if s['complete'] else ' (budget spent; smaller may exist)'}; still failing: {why}"
        f"{'; it did not fail again when re-run (timing-sensitive)' if s['confirmed'] is False else ''}",
        markup=False,
    )
    for line in s["schedule"] or ["no fault"]:
        bars.console.print(f"      {line}", markup=False)
    bars.console.print(f"    reproduce: {reproduce}", markup=False)
    for line in ([f"stopped: {s['stopped']}"] if s["stopped"] else []) + s["errors"]:
        bars.console.print(f"    {line}", markup=False, style="yellow")


def _print_summary(results: list[ScenarioResult]) -> None:
    table = Table(box=None, pad_edge=False)
    for column in ("scenario", "agent", "verdict", "LLM calls c/w/d", "recovery s"):
        table.add_column(column, no_wrap=True)
    for r in results:
        calls = r.llm_calls
        table.add_row(r.name, r.agent, r.verdict, f"{calls['committed']}/{calls['wasted']}/{calls['duplicate']}",
                      "" if r.recovery_s is None else f"{r.recovery_s:.2f}")
    console.print(table)


# --- arguments ----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line and exit 2, as for every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def _whole(minimum: int):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: a whole number ≥ {minimum}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"invalid value {value}: a whole number ≥ {minimum}")
        return value

    return parse


def _choices(text: str) -> tuple[int, ...]:
    try:
        return decode_choices(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    root = _Parser(prog="restate-resilience", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = root.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def selection(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tag", action="append", default=[], help="only scenarios with this tag (repeatable: all must match)")
        p.add_argument("--agent", action="append", default=[], help="only scenarios for this agent, e.g. local-router")
        p.add_argument("--scenarios", metavar="FILE", help="a Python file defining SCENARIOS, instead of the catalogue")

    def running(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", default="reports", help="where batch folders go (default: ./reports)")
        drawn = p.add_mutually_exclusive_group()
        drawn.add_argument("--seed", type=_whole(0), help="seed for random fault schedules: reproduces a batch")
        drawn.add_argument("--schedule", type=_choices, metavar="CHOICES",
                           help="replay a random schedule from its choices, e.g. 3,0,17 (as printed for a shrunk one)")
        p.add_argument("--shrink-budget", type=_whole(0), default=180, metavar="SECONDS",
                       help="when a random schedule fails, search this long for a smaller one that fails the same "
                            "way (default 180; 0: off)")
        p.add_argument("--always-replay", action="store_true", help="inactivity timeout 0: every await suspends and replays")
        topology_options(p)
        p.add_argument("--workers", type=_whole(1), default=min(2, os.cpu_count() or 1), metavar="N",
                       help="run N scenarios side by side, each worker with its own environments "
                            "(default: 2, or 1 on a single core)")
        p.add_argument("--fresh", dest="reuse", action="store_false",
                       help="a fresh environment for every scenario (default: reuse one a scenario left clean)")

    listing = sub.add_parser("list", help="list the scenarios")
    selection(listing)
    listing.add_argument("--topology", choices=TOPOLOGIES, default=None,
                         help="cluster: also the scenarios that need a 3-node cluster (node faults)")
    listing.set_defaults(handler=list_command)

    run = sub.add_parser("run", help="run scenarios and write results.json and the HTML report")
    run.add_argument("scenario", nargs="*", help="scenario names (default: all)")
    selection(run)
    running(run)
    run.set_defaults(handler=run_command)

    soak = sub.add_parser("soak", help="many concurrent requests under a seeded random fault schedule")
    soak.add_argument("--router", choices=["local", "remote"], default="local")
    soak.add_argument("--n", type=_whole(1), default=200, help="concurrent requests (default 200)")
    soak.add_argument("--faults", type=_whole(0), default=6, help="fault windows (0: a fault-free baseline)")
    running(soak)
    soak.set_defaults(handler=soak_command)

    add_validate_parser(sub, out_default="reports")

    setup = sub.add_parser("install", help="install the pinned restate-server and Toxiproxy into a per-user cache")
    setup.add_argument("--into", help="where (default: $RESTATE_RESILIENCE_HOME, else ~/.cache/restate-resilience)")
    setup.set_defaults(handler=install_command)

    report = sub.add_parser("report", help="rebuild the HTML report from saved results")
    report.add_argument("results", nargs="?", default=str(Path("reports") / "latest"),
                        help="a batch folder or its results.json (default: reports/latest)")
    report.set_defaults(handler=report_command)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # The run owns its processes and temp dirs: its reaper outlives even a SIGKILL of this
    # process, and closing it (or atexit) sweeps whatever teardown missed.
    with Cleanup() as cleanup:
        args.cleanup = cleanup
        previous = {sig: signal.signal(sig, cleanup.interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}  # SIGTERM tears down like Ctrl-C
        try:
            return int(args.handler(args))
        except HarnessError as exc:
            # One line; details such as a log's tail follow it in the message, and the log is named.
            print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
            return 2
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())

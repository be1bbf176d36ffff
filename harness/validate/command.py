"""``restate-resilience validate``: one command, no scripting, a diagnosis to act on.

Exit codes: 0 green, 1 any finding, 2 bad input (one line)."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.env import binaries, versions
from harness.errors import HarnessError
from harness.results import reproduce
from harness.runner.batch import Batch
from harness.settings import Settings, topology_options
from harness.validate.cassettes import cassette_tape
from harness.validate.diagnosis import fail_on_classes
from harness.validate.agent import parse_agent_under_test
from harness.validate.run import NeedsInput, Validation, validate_in


def add_parser(sub: Any, out_default: str) -> None:
    p = sub.add_parser("validate", help="validate an agent nobody scripted: every crash point, a diagnosis per bug class")
    p.add_argument("--cmd", action="append", default=[], metavar="[NAME=]COMMAND",
                   help="how to start a deployment, with {port} (repeatable, NAME=COMMAND for several)")
    p.add_argument("--image", action="append", default=[], metavar="[NAME=]IMAGE",
                   help="an agent shipped as a container image, run with --network host; it listens on "
                        "--port, or on the port handed over in PORT (a Docker engine on this machine)")
    p.add_argument("--port", type=int, metavar="N", help="the port the --image agent listens on (default: PORT)")
    p.add_argument("--url", action="append", default=[], metavar="[NAME=]URL",
                   help="a deployment that is already running (only link and LLM faults then)")
    p.add_argument("--cwd", help="the folder the commands run in (default: here)")
    p.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="environment for the agent; values may use {port}, {llm_url}, {ingress_url}, {admin_url}")
    p.add_argument("--stub", action="append", default=[], metavar="NAME=ENV_VAR",
                   help="a recording HTTP stub for the agent's side effects, its URL handed over in ENV_VAR")
    p.add_argument("--proxy", action="append", default=[], metavar="NAME=ENV_VAR=URL",
                   help="a recording proxy in front of an HTTP service you run at URL, its address handed over "
                        "in ENV_VAR: its calls are recorded and faulted like a stub's")
    p.add_argument("--mcp", action="append", default=[], metavar="NAME=ENV_VAR[=URL]",
                   help="an MCP server (streamable HTTP) at the URL in ENV_VAR: in front of yours at URL, or "
                        "serving --mcp-tools; every tools/call is recorded and faulted")
    p.add_argument("--mcp-tools", metavar="FILE",
                   help="a JSON list of tools for --mcp without a URL: name, inputSchema, result")
    p.add_argument("--entry", metavar="Service/handler", help="the handler to validate (default: the only public one)")
    p.add_argument("--input", metavar="JSON", help="the request, any JSON value; {token} marks where the token goes")
    p.add_argument("--key", help="the Virtual Object or Workflow key (default: a fresh one per request)")
    p.add_argument("--budget", choices=["quick", "full"], default="quick",
                   help="quick (default): at most 15 runs, plus 3 per outside tool (two at most) and up to 2 bad answers")
    p.add_argument("--fail-on", metavar="CLASSES", default="",
                   help="advisories of these bug classes fail the validation too (comma-separated, e.g. "
                        "stuck,retry_storm; 'all' for every class)")
    p.add_argument("--strict", action="store_true", help="every advisory fails the validation (--fail-on all)")
    p.add_argument("--expect-terminal-within", metavar="DURATION",
                   help="with the LLM down, the agent must fail terminally this soon (e.g. 30s, 2m): a finding if not")
    p.add_argument("--record", metavar="FILE",
                   help="record the baseline's LLM calls from the real provider (key from OPENAI_API_KEY, "
                        "ANTHROPIC_API_KEY or GEMINI_API_KEY) into this cassette, then validate on it")
    p.add_argument("--upstream", metavar="URL",
                   help="with --record: the provider's base URL (default: each provider's public one, such as "
                        "https://api.openai.com/v1)")
    p.add_argument("--cassette", metavar="FILE",
                   help="validate on the answers recorded in this cassette (--record): no key, no provider")
    p.add_argument("--on-miss", metavar="auto|fail",
                   help="what a request the cassette has no answer to gets: the auto mode's answer (auto, the "
                        "default) or an error (fail); the report counts the misses")
    topology_options(p)
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="runs side by side, each in its own environment (default: 2, or 1 on one core)")
    p.add_argument("--out", default=out_default, help="where batch folders go (default: ./reports)")
    p.set_defaults(handler=validate_command)


def validate_command(args: argparse.Namespace) -> int:
    settings = Settings.from_environ(os.environ).choosing(topology=args.topology, backend=args.backend)  # read once, here
    tape = cassette_tape(settings, record=args.record, cassette=args.cassette, upstream=args.upstream,
                         on_miss=args.on_miss)
    binaries.restate_server(settings), binaries.toxiproxy_server(settings)  # fail fast, with the install hint
    fail_on = fail_on_classes("all" if args.strict else args.fail_on) if (args.strict or args.fail_on) else frozenset()
    terminal_s = parse_duration(args.expect_terminal_within, "--expect-terminal-within") \
        if args.expect_terminal_within is not None else None
    agent = parse_agent_under_test(args.cmd, args.url, cwd=args.cwd, env=args.env, stubs=args.stub, entry=args.entry,
                                   input_json=args.input, key=args.key, images=args.image, port=args.port,
                                   proxies=args.proxy, mcp=args.mcp, mcp_tools=args.mcp_tools)
    agent.check_reachable()
    if agent.images or settings.backend == "docker":
        from harness.env.docker.images import preflight  # docker only when asked for

        preflight(settings, agent.images)  # an engine, and every image on it: else one line
    console = Console(highlight=False)
    batch_id = time.strftime("%Y%m%d-%H%M%S") + "-validate"
    started = time.time()
    try:
        with Batch(Path(args.out) / batch_id, settings, args.cleanup, workers=max(1, args.workers),
                   save_each=False) as batch:
            validation = validate_in(batch, agent, budget=args.budget, say=lambda line: console.print(line, markup=False),
                                     fail_on=fail_on, expect_terminal_within_s=terminal_s, tape=tape)
    except NeedsInput as exc:  # not hung, not passed: said as it is
        console.print(f"needs input: {str(exc).split('needs input: ', 1)[-1]}", markup=False)
        return 2
    again = reproduce.validate_command(sys.argv[1:], os.getcwd())
    for result in batch.results:
        result.reproduce = again
    batch.meta.update({"batch_id": batch_id, "started_at": started, "finished_at": time.time(), "argv": sys.argv[1:],
                       "versions": versions.collect(settings)})
    batch.publish(validation=validation.to_json())
    _print(console, validation)
    batch.point_latest(Path(args.out))
    console.print(f"\nresults: {batch.folder / 'results.json'}\nreport:  {batch.folder / 'index.html'}\n"
                  f"reproduce: {again}", markup=False)
    colour = "green" if validation.green else "red"
    console.print(f"\n[{colour}]{validation.summary()}[/]")  # the last line: the verdict
    return 0 if validation.green else 1


def parse_duration(text: str, option: str) -> float:
    """``90``, ``90s``, ``500ms``, ``2m``, ``1m30s``, ``1h`` as seconds; anything else is one line."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    if not text.strip() or "".join(n + u for n, u in parts) != text.strip().replace(" ", "") or (
            len(parts) > 1 and not all(u for _, u in parts)):
        raise HarnessError(f"{option} {text!r}: expected a duration such as 30s, 2m or 1m30s")
    seconds = sum(float(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "": 1}[u] for n, u in parts)
    if seconds <= 0:
        raise HarnessError(f"{option} {text!r}: the duration must be more than 0")
    return seconds


def _print(console: Console, validation: Validation) -> None:
    table = Table(title=f"validation of {validation.agent} ({validation.entry})", box=None, pad_edge=False)
    for column in ("bug class", "verdict", "exposed by"):
        table.add_column(column, no_wrap=True)
    colours = {"pass": "green", "fail": "red", "skipped": "yellow", "advisory": "yellow", "caused": "magenta"}
    for cls, row in validation.classes.items():
        shown = f"caused by {row.caused_by}" if row.verdict == "caused" else row.verdict
        table.add_row(cls, f"[{colours[row.verdict]}]{shown}[/]", row.scenario or "")
    console.print(table)
    if validation.cassette is not None:
        console.print(validation.cassette.describe(), markup=False)
    for cls, row in validation.classes.items():
        if row.verdict == "fail":
            kind = "advisory made a failure by --fail-on" if row.promoted else "finding"
            console.print(f"\n[red]{cls}[/] ({kind}; exposed by {row.scenario})", highlight=False)
            console.print(f"  what:  {row.evidence}", markup=False)
            console.print(f"  why:   {row.why}", markup=False)
            console.print(f"  fix:   {row.fix}", markup=False)
            if caused := [c for c, r in validation.classes.items() if r.caused_by == cls]:
                console.print(f"  also:  {', '.join(caused)}, symptoms of this finding", markup=False)
        elif row.verdict == "caused":
            console.print(f"\n[magenta]{cls}[/]: {escape(f'{row.why} ({row.scenario}): {row.evidence}')}", highlight=False)
        elif row.verdict == "skipped":
            console.print(f"[yellow]{cls} skipped[/]: {row.why}")
    advisories = [(cls, a) for cls, row in validation.classes.items() if row.verdict != "fail" for a in row.advisories]
    if advisories:
        console.print("\nadvisories (liveness and cost; they do not fail the validation unless --fail-on names them):")
        for cls, advisory in advisories:
            console.print(f"  [yellow]{cls}[/] {escape(f'({advisory.probe}): {advisory.message}')}", highlight=False)
            if advisory.advice:
                console.print(f"    fix: {advisory.advice}", markup=False)

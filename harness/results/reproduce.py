"""The commands that run a scenario again, the same way: the one place they are built, for
the CLI (``run`` and ``soak``), the runner, the pytest plugin and the report.

Every command is one shell line (``shlex``-quoted: names, files and pytest node ids may
hold spaces or brackets). A scenario from a user's file names that file by its absolute
path, so the command works from any directory; a seed and always-replay are carried."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.results.schema import ScenarioResult

HARNESS = ("python", "-m", "harness")


def run_command(
    name: str,
    agent: str = "",
    *,
    seed: int | None = None,
    always_replay: bool = False,
    scenarios_file: str | os.PathLike[str] | None = None,
) -> str:
    """``python -m harness run NAME --agent AGENT [--scenarios /abs/FILE] [--seed N]
    [--always-replay]``. No ``--agent`` when the agent is not known (empty, or ``?`` in
    results that lacked it)."""
    argv = [*HARNESS, "run", name]
    if agent and agent != "?":
        argv += ["--agent", agent]
    if scenarios_file is not None:
        argv += ["--scenarios", str(Path(scenarios_file).resolve())]
    if seed is not None:
        argv += ["--seed", str(seed)]
    if always_replay:
        argv.append("--always-replay")
    return shlex.join(argv)


def soak_command(router: str, n: int, faults: int, seed: int, *, always_replay: bool = False) -> str:
    """``python -m harness soak --router R --n N --faults F --seed S [--always-replay]``."""
    argv = [*HARNESS, "soak", "--router", router, "--n", str(n), "--faults", str(faults), "--seed", str(seed)]
    if always_replay:
        argv.append("--always-replay")
    return shlex.join(argv)


def validate_command(arguments: list[str], cwd: str | os.PathLike[str]) -> str:
    """The ``validate`` run again: its own arguments (``validate --cmd ...``), from the folder
    it ran in, since ``--cwd`` and relative paths are read from there. A validation is
    reproduced whole: its runs are planned from the baseline it learns."""
    return f"cd {shlex.quote(str(Path(cwd).resolve()))} && " + shlex.join([*HARNESS, *arguments])


def nodeid_command(nodeid: str, *, always_replay: bool = False) -> str:
    """``pytest NODEID [--always-replay]``, run from the pytest root directory. (Not named
    ``pytest_*``: pluggy would take that for a hook in a plugin or conftest importing it.)"""
    return shlex.join(["pytest", nodeid, *(["--always-replay"] if always_replay else [])])


def reproduce_command(result: "ScenarioResult") -> str:
    """The command ``result`` recorded (CLI, soak or pytest), else one rebuilt from its
    name, agent, seed and always-replay, for results that predate the recording."""
    if result.reproduce:
        return result.reproduce
    return run_command(result.name, result.agent, seed=result.seed, always_replay=result.always_replay)


__all__ = ["nodeid_command", "reproduce_command", "run_command", "soak_command"]

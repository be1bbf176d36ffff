"""Cleanup when the runner dies: SIGKILL (the reaper), Ctrl-C (the ``with`` block) and
SIGTERM to the CLI (the signal handler turns it into a Ctrl-C).

Each test runs the harness in a child Python process in its own session, as a user's
terminal would, and checks from the outside what is left once that runner is gone.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from harness.env.binaries import PROJECT_ROOT

from .conftest import Leftovers, is_alive, wait_until_gone

# The runner: an Environment with the local router. It reports what it started, then waits.
# On Ctrl-C it reports, from inside the runner and before any atexit hook or reaper could
# help, which of its processes and dirs the ``with`` block left behind.
#
# With "given", the runner owns a ``Cleanup`` (as the CLI does) and hands it to the
# Environment; it is closed only after the report, so the report sees the Environment's
# own teardown, not ``close()``'s sweep, and also what is still registered. With "own",
# the Environment makes and closes its own (a library user's default).
RUNNER = r"""
import contextlib, json, os, sys, time
from pathlib import Path
from harness.env.cleanup import Cleanup
from harness.env.environment import Environment
from scenarios.agents import LOCAL_ROUTER

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False

run_dir, mode = Path(sys.argv[1]), sys.argv[2]
with Cleanup() if mode == "given" else contextlib.nullcontext() as cleanup:
    try:
        with Environment([LOCAL_ROUTER], run_dir, cleanup=cleanup) as env:
            pids = {name: p.pid for name, p in env.processes.items()}
            pids["toxiproxy"] = env.toxiproxy.process.pid
            base_dir = str(env.restate.base_dir)
            print("READY " + json.dumps({"pids": pids, "base_dir": base_dir}), flush=True)
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        left = sorted(pid for pid in pids.values() if alive(pid))
        registered = sorted(cleanup.groups) + sorted(cleanup.dirs) if cleanup is not None else []
        report = {"alive": left, "base_dir_exists": os.path.exists(base_dir), "registered": registered}
        print("TORN-DOWN " + json.dumps(report), flush=True)
        raise
"""


class LineReader:
    """Reads a child's stdout on a thread so the test can wait for a line with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, prefix: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise AssertionError(f"no {prefix!r} line within {timeout_s}s; stdout was: {self.seen}")


def _spawn(argv: list[str], tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    stderr = tmp_path / "runner.stderr"
    process = subprocess.Popen(
        argv,
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=open(stderr, "w"),
        text=True,
        start_new_session=True,  # like a program started from a terminal: its own group
    )
    return process, stderr


def _force_stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


def _start_runner(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], LineReader, dict[str, Any], Path]:
    process, stderr = _spawn([sys.executable, "-c", RUNNER, str(tmp_path / "run"), mode], tmp_path)
    reader = LineReader(process.stdout)  # type: ignore[arg-type]
    try:
        info = json.loads(reader.wait_for("READY", timeout_s=25))
    except AssertionError as exc:
        _force_stop(process)
        raise AssertionError(f"{exc}\nstderr:\n{stderr.read_text()[-3000:]}") from None
    pids = set(info["pids"].values())
    assert {"restate", "llm", "router", "toxiproxy"} <= set(info["pids"]), info
    assert all(is_alive(pid) for pid in pids), info
    assert Path(info["base_dir"]).is_dir()
    return process, reader, info, stderr


def test_runner_sigkilled_reaper_cleans_up(tmp_path: Path, no_leftovers: Leftovers) -> None:
    # The Environment's own Cleanup: a library user's default still has a reaper.
    runner, _, info, stderr = _start_runner(tmp_path, "own")
    try:
        pids = set(info["pids"].values())
        reapers = no_leftovers.marked("harness.env.reaper")
        assert reapers, "the runner started no reaper"

        os.kill(runner.pid, signal.SIGKILL)  # no Python code runs: no finally, no atexit
        assert runner.wait(timeout=5) == -signal.SIGKILL

        assert wait_until_gone(pids, timeout_s=10) == set(), f"survived the runner's SIGKILL: {info['pids']}"
        deadline = time.monotonic() + 10
        while Path(info["base_dir"]).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(info["base_dir"]).exists(), "the reaper did not remove restate's base dir"
        no_leftovers.assert_no_new_restate_dirs(timeout_s=10)
        no_leftovers.assert_no_processes_left(timeout_s=10)  # reaper included: it exits once done
    finally:
        _force_stop(runner)


def test_ctrl_c_tears_down_inside_the_with_block(tmp_path: Path, no_leftovers: Leftovers) -> None:
    runner, reader, info, stderr = _start_runner(tmp_path, "given")
    try:
        pids = set(info["pids"].values())
        os.killpg(runner.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the foreground group

        torn_down = json.loads(reader.wait_for("TORN-DOWN", timeout_s=15))
        assert torn_down["alive"] == [], f"still alive after the with block: {torn_down}"
        assert torn_down["base_dir_exists"] is False, "the with block left restate's base dir"
        assert torn_down["registered"] == [], f"the with block left these registered: {torn_down}"

        try:
            code = runner.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("the runner did not exit after Ctrl-C")
        assert code in (-signal.SIGINT, 1, 130), f"exit code {code}; stderr:\n{stderr.read_text()[-2000:]}"
        assert "KeyboardInterrupt" in stderr.read_text()
        assert wait_until_gone(pids) == set()
        no_leftovers.assert_no_processes_left()
        no_leftovers.assert_no_new_restate_dirs()
    finally:
        _force_stop(runner)


# "restate-server --base-dir": the scenario's server, not the `restate-server --version`
# that the CLI runs to record versions before the run starts.
@pytest.mark.parametrize(
    "wait_for", ["restate-server --base-dir", "harness.serve"], ids=["environment-starting", "agents-up"]
)
def test_cli_sigterm_mid_run(tmp_path: Path, no_leftovers: Leftovers, wait_for: str) -> None:
    out = tmp_path / "reports"
    cli, stderr = _spawn([sys.executable, "-m", "harness", "run", "baseline", "--out", str(out)], tmp_path)
    try:
        # The whole baseline takes ~2 s, so signal as soon as the part we wait for is up.
        deadline = time.monotonic() + 20
        while not no_leftovers.marked(wait_for):
            assert cli.poll() is None, f"the CLI ended before {wait_for} was seen: {stderr.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"no {wait_for} started by the CLI within 20s"
            time.sleep(0.01)
        started = {p.pid for p in no_leftovers.new_processes()}
        assert started

        os.kill(cli.pid, signal.SIGTERM)  # the CLI only, not its group
        try:
            code = cli.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("the CLI did not exit within 15 s of SIGTERM")
        err = stderr.read_text()
        assert code == 130, f"exit code {code}; stderr:\n{err[-3000:]}"
        assert "interrupted" in err
        assert wait_until_gone(started) == set()
        no_leftovers.assert_no_processes_left()
        no_leftovers.assert_no_new_restate_dirs()
    finally:
        _force_stop(cli)

"""Cuts with the kernel's packet filter, on real processes: a process in its own cgroup cannot
reach the ports it is cut from until the cut heals, and every rule, chain and cgroup goes
away, after a normal close and after the owner is SIGKILLed mid-partition. Skipped, with one
line, where the kernel does not allow it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.env.binaries import PROJECT_ROOT
from harness.env.cleanup import Cleanup
from harness.env.packet_filter import PREFIX, Cut, cgroup2_root, why_unavailable
from harness.env.ports import free_port

from .conftest import Leftovers, has_restatectl

REASON = why_unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def ruleset() -> str:
    return subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=True).stdout


def others(rules: str) -> set[str]:
    """The table's rules that are not the harness's (other tests' chains come and go meanwhile)."""
    return {line for line in rules.splitlines() if PREFIX not in line}


def our_cgroups() -> set[str]:
    root = cgroup2_root()
    return {p.name for p in root.iterdir() if p.name.startswith(PREFIX)} if root else set()


def reaches(port: int, cgroup_procs: Path | None) -> bool:
    """Can a fresh process (in the cgroup, if given) open a connection to ``port`` within 1 s?"""
    probe = (f"import socket; s=socket.socket(); s.settimeout(1); s.connect(('127.0.0.1', {port}));"
             "s.sendall(b'x'); print(s.recv(1).decode())")
    argv = [sys.executable, "-c", probe]
    if cgroup_procs is not None:
        argv = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(cgroup_procs), *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    return done.stdout.strip() == "x"


def echo_server(port: int) -> subprocess.Popen[str]:
    code = (f"import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
            f"s.bind(('127.0.0.1', {port})); s.listen()\n"
            "while True:\n c, _ = s.accept(); c.sendall(c.recv(1)); c.close()")
    server = subprocess.Popen([sys.executable, "-c", code], text=True)
    deadline = time.monotonic() + 5
    while not reaches(port, None) and time.monotonic() < deadline:
        time.sleep(0.05)
    return server


def test_a_cut_drops_only_what_the_cgroup_sends_to_those_ports_and_heals_completely() -> None:
    before = ruleset()
    port = free_port()
    server = echo_server(port)
    try:
        with Cleanup() as cleanup:
            packet_filter = cleanup.packet_filter()
            argv = packet_filter.enter("node-a", ["true"])
            procs = Path(argv[3])
            assert reaches(port, procs)
            cut = Cut("node-a->server", (port,), sender="node-a")
            packet_filter.cut(cut)
            assert packet_filter.owner in ruleset()
            assert not reaches(port, procs)  # what node-a sends is dropped
            assert reaches(port, None)  # everyone else still gets through
            packet_filter.heal(cut)
            assert reaches(port, procs)
            packet_filter.cut(Cut("clients->server", (port,)))  # from any process
            assert not reaches(port, None)
            owner = packet_filter.owner
    finally:
        server.kill()
        server.wait()
    assert owner not in ruleset() and owner not in our_cgroups()
    assert others(ruleset()) == others(before)


OWNER = """
import sys, time
from harness.env.cleanup import Cleanup
from harness.env.packet_filter import Cut
cleanup = Cleanup()
packet_filter = cleanup.packet_filter()
cleanup.register_group(int(sys.argv[2]))
packet_filter.enter("node-a", ["true"])
packet_filter.cut(Cut("node-a->server", (int(sys.argv[1]),), sender="node-a"))
print(packet_filter.owner, flush=True)
time.sleep(600)
"""


def test_the_reaper_removes_every_rule_and_cgroup_when_the_owner_is_sigkilled_mid_partition() -> None:
    before = ruleset()
    sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(free_port()), str(sleeper.pid)],
                             stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        assert owner.stdout is not None
        chain = owner.stdout.readline().strip()
        assert chain.startswith(PREFIX) and chain in ruleset()
        assert chain in our_cgroups()
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + 15
        while (chain in ruleset() or chain in our_cgroups() or sleeper.poll() is None) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sleeper.poll() is not None, "the reaper did not kill the owner's process group"
        assert chain not in ruleset() and chain not in our_cgroups()
        assert others(ruleset()) == others(before)
    finally:
        for process in (owner, sleeper):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_a_cli_run_sigkilled_mid_partition_leaves_no_rule_cgroup_or_process(tmp_path: Path, no_leftovers: Leftovers) -> None:
    if not has_restatectl():
        pytest.skip("restatectl not installed: ./scripts/setup")
    before = ruleset()
    cli = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--topology", "cluster", "partition-leader-both-ways-while-llm-held",
         "--agent", "local-router", "--out", str(tmp_path / "reports")],
        cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        owner = ""
        deadline = time.monotonic() + 60
        while not (owner and any(owner in r and "->restate-" in r for r in ruleset().splitlines())):
            assert cli.poll() is None, "the CLI ended before its partition was applied"
            assert time.monotonic() < deadline, "no partition applied by the CLI within 60 s"
            for node in no_leftovers.marked("restate-server --base-dir"):
                cgroup = Path(f"/proc/{node.pid}/cgroup").read_text().strip().splitlines()[-1]
                owner = cgroup.split("::/", 1)[-1].split("/", 1)[0]
            time.sleep(0.2)
        assert owner.startswith(PREFIX) and f"-N {owner}" in ruleset()

        os.kill(cli.pid, signal.SIGKILL)  # the runner only: no Python code of it runs again
        cli.wait(timeout=5)
        deadline = time.monotonic() + 15
        while (owner in ruleset() or owner in our_cgroups()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert owner not in ruleset(), [r for r in ruleset().splitlines() if owner in r]
        assert owner not in our_cgroups()
        no_leftovers.assert_no_processes_left(timeout_s=15)
        no_leftovers.assert_no_new_restate_dirs(timeout_s=10)
        assert others(ruleset()) == others(before)  # nothing else of the table changed
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
            cli.wait()

"""Integration tests start real processes (restate-server, Toxiproxy, the fake LLM, agents).

Every test in this folder is marked ``integration``. The ``no_leftovers`` fixture checks,
after the test, that no harness process and no ``/tmp/restate-*`` dir it created is left.
The ``cleanup`` fixture is a ``Cleanup`` for the test's own processes: at the end of the
test everything registered with it must have been released by the test's own teardown
(before ``close()`` could sweep it), and its reaper is gone before ``no_leftovers`` looks.

Attribution: other people may run the harness on this machine at the same time, so a
process only counts as this test's if it appeared during the test *and* carries the
test's marker in its environment (``HARNESS_TEST_MARK``, set by the fixture and
inherited by everything the test starts, directly or through a child runner).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.env.cleanup import Cleanup
from harness.env.packet_filter import PREFIX, cgroup2_root

_HERE = Path(__file__).resolve().parent

MARK_VAR = "HARNESS_TEST_MARK"
HARNESS_PATTERNS = ("restate-server", "toxiproxy-server", "harness.serve", "harness.fake_llm", "harness.stubs", "harness.env.reaper",
                    "harness.env.forkserver")
# Our servers' data dirs, and the folder restate-server's invoker makes in the temp dir at
# every start (kept inside the data dir's parent, so it goes with it).
TEMP_DIR_PREFIXES = ("restate-", "invoker-")
GONE_WITHIN_S = 3.0


# The PR tier (``pytest -m "not slow"``): every unit test and these end-to-end tests, one or
# two per capability; every other test here is ``slow``. Ids are prefixes of node ids.
PR_TIER = {
    "catalogue": ("test_catalogue.py::test_reference_agents_pass_every_scenario[kill-router-during-specialist-call[local-router]]",),
    "validate": ("test_validate.py::test_an_unjournaled_llm_call_is_a_duplicate_llm_call",
                 "test_validate.py::test_the_reference_local_router_validates_green",
                 "test_validate.py::test_bad_input_is_one_line_and_exit_2"),
    "cluster": ("test_cluster.py::test_leader_kill_on_the_cluster_passes_with_no_acknowledged_request_lost",
                "test_cluster.py::test_a_leader_partitioned_both_ways_is_replaced_inside_the_window_and_nothing_is_lost[local-router]",
                "test_packet_filter.py"),
    "docker": ("test_docker_backend.py::test_baseline_on_restate_in_a_container",),
    "report in Chromium": ("test_report_browser.py::test_report_in_chromium",),
    "pytest plugin": ("test_plugin.py::test_a_user_writes_scenarios_with_the_fixtures_and_gets_junit_and_a_report",),
    "cleanup": ("test_cleanup.py::test_ctrl_c_tears_down_inside_the_with_block",),
    "bad input": ("test_bad_input.py::",),
}


def in_pr_tier(node_id: str) -> bool:
    """True for a node id (relative to this folder) the PR tier keeps."""
    return any(node_id.startswith(prefix) for prefixes in PR_TIER.values() for prefix in prefixes)


@pytest.hookimpl(tryfirst=True)  # before -m deselects anything
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if _HERE in Path(str(item.path)).resolve().parents]
    for item in ours:
        item.add_marker(pytest.mark.integration)
        if not in_pr_tier(_local_id(item)):
            item.add_marker(pytest.mark.slow)
    # A renamed test must not drop out of the PR tier unnoticed: every prefix whose file was
    # collected in full must match a test.
    files = {_local_id(item).split("::")[0] for item in ours}
    kept = {_local_id(item) for item in ours}
    missing = [prefix for prefixes in PR_TIER.values() for prefix in prefixes
               if prefix.split("::")[0] in files and not any(node.startswith(prefix) for node in kept)
               and not _narrowed(config)]
    if missing:
        raise pytest.UsageError(f"PR_TIER in {__file__} names tests that do not exist: {', '.join(missing)}")


def _narrowed(config: pytest.Config) -> bool:
    """Whether the command line picked tests inside files (by id or ``-k``)."""
    return bool(config.getoption("keyword")) or any("::" in arg for arg in config.args)


def _local_id(item: pytest.Item) -> str:
    return item.nodeid.split("tests/integration/", 1)[-1]


# --- /proc helpers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    cmdline: str

    def __str__(self) -> str:
        return f"{self.pid}: {self.cmdline[:200]}"


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def all_pids() -> set[int]:
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of ``pid``, or None if it is gone."""
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    fields = raw.decode(errors="replace").rpartition(")")[2].split()
    return fields[0], int(fields[2])


def parent_pid(pid: int) -> int | None:
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    return int(raw.decode(errors="replace").rpartition(")")[2].split()[1])


def is_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def cmdline(pid: int) -> str | None:
    raw = _read(f"/proc/{pid}/cmdline")
    if raw is None:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def has_mark(pid: int, mark: str) -> bool:
    """True if ``pid`` was started with our marker; True as well if its environment can't
    be read (count it rather than miss a leftover)."""
    raw = _read(f"/proc/{pid}/environ")
    if raw is None:
        return is_alive(pid)
    return f"{MARK_VAR}={mark}".encode() in raw.split(b"\0")


def harness_processes(pids: set[int] | None = None) -> list[Proc]:
    """Live (non-zombie) processes whose command line names a harness part."""
    found = []
    for pid in sorted(pids if pids is not None else all_pids()):
        line = cmdline(pid)
        if line and any(p in line for p in HARNESS_PATTERNS) and is_alive(pid):
            found.append(Proc(pid, line))
    return found


def group_members(pgid: int) -> set[int]:
    """Live pids whose process group is ``pgid``."""
    members = set()
    for pid in all_pids():
        stat = proc_stat(pid)
        if stat is not None and stat[1] == pgid and stat[0] != "Z":
            members.add(pid)
    return members


def wait_until_gone(pids: set[int] | list[int], timeout_s: float = GONE_WITHIN_S) -> set[int]:
    """Wait for ``pids`` to disappear (zombies count as gone); return those still alive."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = {pid for pid in pids if is_alive(pid)}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def has_restatectl() -> bool:
    """Whether the pinned restatectl (how a cluster's leadership is read) is installed."""
    from harness.env import binaries  # noqa: PLC0415
    from harness.errors import HarnessError  # noqa: PLC0415

    try:
        binaries.restatectl()
    except HarnessError:
        return False
    return True


def restate_temp_dirs() -> set[str]:
    root = Path(tempfile.gettempdir())  # a worker's own under pytest -n (tests/conftest.py)
    return {str(p) for prefix in TEMP_DIR_PREFIXES for p in root.glob(f"{prefix}*") if p.is_dir()}


# --- the fixture -----------------------------------------------------------------------


@dataclass
class Leftovers:
    """What the test started with; helpers to find what it left behind."""

    mark: str
    pids_before: set[int]
    dirs_before: set[str]
    session_cleanups: list[Cleanup] = field(default_factory=list)

    def session_reaper_pids(self) -> set[int]:
        """Reapers of ``Cleanup`` objects that outlive the test by design (the pytest plugin's
        session ``resilience_cleanup``): they live as long as pytest."""
        return {pid for c in self.session_cleanups if (pid := c.reaper_pid) is not None}

    def new_processes(self) -> list[Proc]:
        """Harness processes started during the test (by it), still alive."""
        candidates = all_pids() - self.pids_before - self.session_reaper_pids()
        return [p for p in harness_processes(candidates) if has_mark(p.pid, self.mark)]

    def unsettled(self) -> set[int]:
        """New live user processes whose command line is still empty. ``Popen`` returns as
        soon as ``exec`` closed its close-on-exec pipe, which is *before* the kernel sets up
        the new argv: for that instant ``/proc/<pid>/cmdline`` reads empty. Such a process
        can't be judged yet (kernel threads, children of kthreadd, have no cmdline ever)."""
        return {
            pid
            for pid in all_pids() - self.pids_before
            if cmdline(pid) == "" and is_alive(pid) and parent_pid(pid) not in (0, 2, None)
        }

    def marked(self, pattern: str) -> list[Proc]:
        """Live processes started by this test whose command line contains ``pattern``."""
        return [
            Proc(pid, line)
            for pid in sorted(all_pids() - self.pids_before)
            if (line := cmdline(pid)) and pattern in line and is_alive(pid) and has_mark(pid, self.mark)
        ]

    def assert_no_processes_left(self, timeout_s: float = GONE_WITHIN_S) -> None:
        deadline = time.monotonic() + timeout_s
        while ((left := self.new_processes()) or self.unsettled()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, "harness processes left behind:\n" + "\n".join(map(str, left))

    def _foreign_dir(self, path: str) -> bool:
        """A new restate-* dir that a restate-server *not* started by this test is using."""
        for proc in harness_processes():
            if "restate-server" in proc.cmdline and path in proc.cmdline.split() and not has_mark(proc.pid, self.mark):
                return True
        return False

    def new_restate_dirs(self) -> set[str]:
        return {d for d in restate_temp_dirs() - self.dirs_before if not self._foreign_dir(d)}

    def assert_no_new_restate_dirs(self, timeout_s: float = GONE_WITHIN_S) -> None:
        deadline = time.monotonic() + timeout_s
        while (left := self.new_restate_dirs()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"temp dirs left behind: {sorted(left)}"


@pytest.fixture
def no_leftovers(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Leftovers]:
    mark = uuid.uuid4().hex
    monkeypatch.setenv(MARK_VAR, mark)
    state = Leftovers(mark=mark, pids_before=all_pids(), dirs_before=restate_temp_dirs())
    if "resilience_cleanup" in request.fixturenames:  # the plugin's, for the whole session
        state.session_cleanups.append(request.getfixturevalue("resilience_cleanup"))
    yield state
    state.assert_no_processes_left()
    state.assert_no_new_restate_dirs()


@pytest.fixture
def cleanup(no_leftovers: Leftovers) -> Iterator[Cleanup]:
    """The test's ``Cleanup`` (set up after, torn down before, ``no_leftovers``). Everything
    registered with it must have been released by the test itself: what ``close()`` would
    still sweep is a teardown bug."""
    with Cleanup() as owned:
        yield owned
        # The registry, before close() sweeps it: everything the test registered was released.
        assert not owned.groups, f"process groups still registered: {sorted(owned.groups)}"
        assert not owned.dirs, f"temp dirs still registered: {sorted(owned.dirs)}"
    assert_no_packet_filter_left(owned.owner_id)


def assert_no_packet_filter_left(owner_id: str) -> None:
    """No chain, rule or cgroup of this owner is left (other tests' may come and go meanwhile)."""
    owner = f"{PREFIX}{owner_id}"
    if shutil.which("iptables") is not None and os.geteuid() == 0:
        rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
        assert owner not in rules, f"packet-filter rules left: {[r for r in rules.splitlines() if owner in r]}"
    root = cgroup2_root()
    assert root is None or not (root / owner).exists(), f"cgroup left: {root / owner}"

"""Cuts between chosen processes on this machine, with the kernel's packet filter.

Everything runs on loopback, where every packet carries the same addresses, so a process is
told apart by its cgroup instead: each process that can be cut off runs in its own cgroup
v2, ``<cgroup2 mount>/rrh-<owner>/<name>`` (it moves itself there before it execs, so every
socket it ever opens belongs to it). A cut is a DROP rule in ``iptables``' OUTPUT path,
in a chain of the owner's own (``rrh-<owner>``, jumped to from OUTPUT with that comment):

- ``sender -> ports``: packets that ``sender``'s sockets send to those TCP ports;
- ``any -> ports``: packets any process sends to them (the harness's clients).

A node that receives nothing from a peer on the connections the peer opens, and whose own
packets to the peer are dropped, is cut off from it both ways: Restate's nodes send over
the connections they open (``harness.env.restate.cluster``). Rules go in, and come out,
one by one; ``sweep`` removes the chain and the cgroups whatever is left, and the reaper
runs it if the owner dies by SIGKILL. Beside the standard library this module imports only
``harness.errors``: the reaper runs it on its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

PREFIX = "rrh-"  # chains and cgroups named rrh-<owner id>: the owner's, and only its


@dataclass(frozen=True)
class Cut:
    """One directed cut: packets from ``sender``'s cgroup (``None``: from any process) to
    ``ports`` are dropped. ``label`` says what it cuts, for the history (``restate-1->restate-2``)."""

    label: str
    ports: tuple[int, ...]
    sender: str | None = None


def cgroup2_root() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup`` or ``.../unified``)."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        parts = line.split()
        if len(parts) > 2 and parts[2] == "cgroup2":
            return Path(parts[1])
    return None


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    # -w: wait for the xtables lock (two workers cutting at once) instead of failing.
    return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True, timeout=30)


def why_unavailable() -> str | None:
    """None when this machine can cut: root, ``iptables`` with its cgroup match, and a
    writable cgroup v2 hierarchy; else one line saying what is missing."""
    if os.geteuid() != 0:
        return "partitions need root (iptables and cgroups)"
    if shutil.which("iptables") is None:
        return "partitions need iptables, which is not installed"
    root = cgroup2_root()
    if root is None or not os.access(root, os.W_OK):
        return "partitions need a writable cgroup v2 hierarchy, and none is mounted"
    probe = f"{PREFIX}probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # unique: workers probe at once
    try:
        (root / probe).mkdir(exist_ok=True)
    except OSError as exc:
        return f"partitions need cgroups of their own, and making one failed: {exc.strerror}"
    try:
        rule = ["OUTPUT", "-o", "lo", "-p", "tcp", "-m", "cgroup", "--path", probe, "--dport", "9",
                "-m", "comment", "--comment", probe, "-j", "DROP"]
        added = _iptables("-A", *rule)
        if added.returncode != 0:
            last = (added.stderr.strip().splitlines() or ["no message"])[-1]
            return f"iptables cannot match on cgroups here: {last}"
        _iptables("-D", *rule)
        return None
    finally:
        (root / probe).rmdir()


class PacketFilter:
    """One owner's cgroups and cuts; see the module's doc. Made by the ``Cleanup`` (which
    sweeps it), used by the cluster: ``enter(name, argv)`` to start a process in its own
    cgroup, ``cut``/``heal`` for the rules."""

    def __init__(self, owner_id: str) -> None:
        self.owner = f"{PREFIX}{owner_id}"
        self._root: Path | None = None
        self._cuts: list[Cut] = []
        self._unavailable: str | None = None
        self._probed = False
        self._lock = threading.Lock()  # an owner's workers start clusters and cut at once

    @property
    def why_unavailable(self) -> str | None:
        """None when this machine can cut (asked once); else why not, in one line."""
        if not self._probed:
            self._unavailable, self._probed = why_unavailable(), True
        return self._unavailable

    def _ensure(self) -> Path:
        """The owner's cgroup and chain, made on first use."""
        with self._lock:
            return self._make()

    def _make(self) -> Path:
        if self._root is None:
            reason = self.why_unavailable
            if reason is not None:
                raise PartitionUnavailable(reason)
            root = cgroup2_root()
            assert root is not None
            (root / self.owner).mkdir(exist_ok=True)
            _check(_iptables("-N", self.owner), "making the chain")
            _check(_iptables("-I", "OUTPUT", "-m", "comment", "--comment", self.owner, "-j", self.owner), "jumping to it")
            self._root = root
        return self._root

    def enter(self, name: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run so that it joins cgroup ``name`` before it execs (``/bin/sh`` moves
        itself, then execs: the process keeps its pid, so signals reach it as before)."""
        root = self._ensure()
        group = root / self.owner / name
        group.mkdir(exist_ok=True)
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(group / "cgroup.procs"), *argv]

    def cut(self, cut: Cut) -> None:
        self._ensure()
        with self._lock:
            _check(_iptables("-A", self.owner, *self._rule(cut)), f"cutting {cut.label}")
            self._cuts.append(cut)

    def heal(self, cut: Cut) -> None:
        with self._lock:
            if cut in self._cuts:
                self._cuts.remove(cut)
                _check(_iptables("-D", self.owner, *self._rule(cut)), f"healing {cut.label}")

    @property
    def cuts(self) -> tuple[Cut, ...]:
        """The cuts in force."""
        return tuple(self._cuts)

    def _rule(self, cut: Cut) -> list[str]:
        sender = ["-m", "cgroup", "--path", f"{self.owner}/{cut.sender}"] if cut.sender else []
        ports = ",".join(str(p) for p in cut.ports)
        return ["-o", "lo", "-p", "tcp", *sender, "-m", "multiport", "--dports", ports,
                "-m", "comment", "--comment", cut.label, "-j", "DROP"]

    def close(self) -> None:
        """Every rule and cgroup of the owner removed (after its processes are gone)."""
        self._cuts.clear()
        if self._root is not None:
            sweep(self.owner[len(PREFIX):])
            self._root = None


class PartitionUnavailable(HarnessError):
    """This machine cannot cut (no root, no iptables cgroup match, no cgroup v2), or iptables
    refused a rule: one line, as every error a user can act on."""


def _check(done: subprocess.CompletedProcess[str], doing: str) -> None:
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise PartitionUnavailable(f"iptables failed {doing}: {last}")


def sweep(owner_id: str, within_s: float = 5.0) -> None:
    """Remove owner ``owner_id``'s chain, its jump and its cgroups, whatever state they are
    in. A cgroup is removed once its processes are gone: killed processes take a moment."""
    owner = f"{PREFIX}{owner_id}"
    if shutil.which("iptables") is not None:
        while _iptables("-D", "OUTPUT", "-m", "comment", "--comment", owner, "-j", owner).returncode == 0:
            pass
        _iptables("-F", owner)
        _iptables("-X", owner)
    root = cgroup2_root()
    if root is None or not (root / owner).is_dir():
        return
    deadline = time.monotonic() + within_s
    while True:
        for group in sorted((root / owner).iterdir()):
            if group.is_dir():
                _rmdir(group)
        _rmdir(root / owner)
        if not (root / owner).exists() or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()  # a cgroup's files are not files: rmdir, never rmtree
    except OSError:
        pass


__all__ = ["Cut", "PacketFilter", "PartitionUnavailable", "cgroup2_root", "sweep", "why_unavailable"]

"""Cleanup guarantees, owned by whoever starts processes: every managed process group,
temp dir and container is registered with a ``Cleanup``, and its reaper process destroys
them if the owner's process dies abruptly.

The edges own one: the command line for its run, the pytest plugin for its session. They
pass it to every ``Environment``, which passes it to its processes; an ``Environment`` made
without one owns a ``Cleanup`` of its own and closes it on exit. Nothing here is global:
two ``Cleanup`` objects in one process have their own registries and reapers.

Normal teardown (context managers, ``finally``) does the real work; ``close()`` (also run
by ``atexit``, registered when the ``Cleanup`` is made) sweeps what is still registered,
and the reaper (``python -m harness.env.reaper``) only covers SIGKILL of the runner, where
no Python code runs.

Containers (the docker backend) are registered by label rather than one by one: each
``Cleanup`` has an ``owner_id``, every container started for it is labelled
``restate-resilience.run=<owner_id>`` (``container_labels()``), and ``close()`` and the
reaper ``docker rm -f`` whatever still carries it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
import time
from pathlib import Path
from types import FrameType

from harness.env.packet_filter import PacketFilter
from harness.env.reaper import CONTAINER_LABEL, remove_containers
from harness.errors import HarnessError


def kill_group(pgid: int) -> None:
    """SIGKILL a whole process group (resumed first: a paused group must be able to die)."""
    try:
        os.killpg(pgid, signal.SIGCONT)
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def remove_tree(path: str | Path, within_s: float = 2.0) -> None:
    """``rmtree``, again until the tree is gone: a process SIGKILLed a moment ago (restate-server
    writing its data dir) still adds files while the first pass runs (without this pass, 1 in 3
    runs of test_cli_sigterm_mid_run left the dir behind)."""
    deadline = time.monotonic() + within_s
    shutil.rmtree(path, ignore_errors=True)
    while os.path.lexists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
        shutil.rmtree(path, ignore_errors=True)


class Cleanup:
    """The registry of one owner's process groups and temp dirs, and its reaper.

        with Cleanup() as cleanup:
            signal.signal(signal.SIGINT, cleanup.interrupt)
            with Environment(agents, folder, cleanup=cleanup) as env:
                ...

    The reaper is started at the first registration and stopped by ``close()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reaper: subprocess.Popen[str] | None = None
        self._groups: set[int] = set()
        self._dirs: set[str] = set()
        self._containers = False  # container_labels() was asked for: close() and the reaper sweep by label
        self.owner_id = uuid.uuid4().hex[:16]  # the label value of this owner's containers
        self._filter: PacketFilter | None = None  # made when a cluster asks: its cgroups and cuts
        self._closed = False
        self.interrupted = False  # a SIGINT or SIGTERM arrived (see ``interrupt``)
        atexit.register(self.close)

    # --- interrupts ------------------------------------------------------------------------

    def interrupt(self, signum: int, frame: FrameType | None) -> None:
        """A signal handler for SIGINT and SIGTERM: tear down as on Ctrl-C. The request is
        also remembered, because a KeyboardInterrupt raised while ``fork`` runs its Python
        hooks (inside ``subprocess.Popen``) is printed and swallowed;
        ``raise_if_interrupted`` raises it again at the next safe point."""
        self.interrupted = True
        raise KeyboardInterrupt

    def raise_if_interrupted(self) -> None:
        if self.interrupted:
            raise KeyboardInterrupt

    # --- registry --------------------------------------------------------------------------

    @property
    def groups(self) -> frozenset[int]:
        """Process groups registered and not yet forgotten."""
        return frozenset(self._groups)

    @property
    def dirs(self) -> frozenset[str]:
        """Temp dirs made and not yet removed."""
        return frozenset(self._dirs)

    @property
    def reaper_pid(self) -> int | None:
        """The reaper's pid while it runs."""
        reaper = self._reaper
        return reaper.pid if reaper is not None and reaper.poll() is None else None

    def register_group(self, pgid: int) -> None:
        with self._lock:
            self._check_open()
            self._groups.add(pgid)
            self._tell_reaper(f"add-group {pgid}")

    def forget_group(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)
            self._tell_reaper(f"drop-group {pgid}")

    def make_temp_dir(self, prefix: str) -> Path:
        """A temp dir that is removed at teardown, on ``close()``, or by the reaper."""
        # A SIGTERM between mkdtemp and the registration would leak the dir (seen in CI): the
        # signal waits until both are done.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            with self._lock:
                self._check_open()
                path = tempfile.mkdtemp(prefix=prefix)
                self._dirs.add(path)
                self._tell_reaper(f"add-dir {path}")
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return Path(path)

    def remove_temp_dir(self, path: Path) -> None:
        remove_tree(path)
        with self._lock:
            self._dirs.discard(str(path))
            self._tell_reaper(f"drop-dir {path}")

    def container_labels(self) -> dict[str, str]:
        """The labels a container started for this owner must carry: from this call on,
        ``close()`` and the reaper (even after a SIGKILL of the owner) remove every
        container labelled so. Ask before creating the container."""
        with self._lock:
            self._check_open()
            if not self._containers:
                self._containers = True
                self._tell_reaper(f"add-containers {self.owner_id}")
        return {CONTAINER_LABEL: self.owner_id}

    def packet_filter(self) -> PacketFilter:
        """This owner's cgroups and packet-filter cuts (``harness.env.packet_filter``): from
        this call on, ``close()`` and the reaper (even after a SIGKILL of the owner) remove
        every rule and cgroup it made."""
        with self._lock:
            self._check_open()
            if self._filter is None:
                self._filter = PacketFilter(self.owner_id)
                self._tell_reaper(f"add-filter {self.owner_id}")
            return self._filter

    def _check_open(self) -> None:
        if self._closed:
            raise HarnessError("this Cleanup is closed: make a new one to start processes")

    def _tell_reaper(self, line: str) -> None:
        """Under the lock. Started on first use; a reaper that died is started again with
        everything still registered."""
        if self._closed:
            return  # close() swept everything and ended the reaper
        if self._reaper is None or self._reaper.poll() is not None:
            self._reaper = subprocess.Popen(
                [sys.executable, "-m", "harness.env.reaper"],
                stdin=subprocess.PIPE,
                text=True,
                start_new_session=True,  # survives the runner's process group being killed
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            assert self._reaper.stdin is not None
            for pgid in self._groups:
                self._reaper.stdin.write(f"add-group {pgid}\n")
            for path in self._dirs:
                self._reaper.stdin.write(f"add-dir {path}\n")
            if self._containers:
                self._reaper.stdin.write(f"add-containers {self.owner_id}\n")
            if self._filter is not None:
                self._reaper.stdin.write(f"add-filter {self.owner_id}\n")
        assert self._reaper.stdin is not None
        self._reaper.stdin.write(line + "\n")
        self._reaper.stdin.flush()

    # --- the end ---------------------------------------------------------------------------

    def close(self) -> None:
        """Kill every group and remove every dir still registered, then let the reaper go
        (EOF: it finds nothing left and exits). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            groups, dirs, reaper = list(self._groups), list(self._dirs), self._reaper
            containers, packet_filter = self._containers, self._filter
            self._groups.clear()
            self._dirs.clear()
        atexit.unregister(self.close)
        for pgid in groups:
            kill_group(pgid)
        if packet_filter is not None:  # after the kills: a cgroup goes once its processes have
            packet_filter.close()
        if containers:
            remove_containers(self.owner_id)
        for path in dirs:
            remove_tree(path)
        if reaper is not None and reaper.stdin is not None:
            try:
                reaper.stdin.close()
            except OSError:  # BrokenPipeError: it is gone already
                pass
            try:
                reaper.wait(timeout=5)
            except subprocess.TimeoutExpired:
                reaper.kill()
                reaper.wait()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Cleanup":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Cleanup", "kill_group"]

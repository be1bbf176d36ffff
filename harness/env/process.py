"""Managed processes: each runs in its own session (so its own process group), logs to a
file in the run's folder, and can be killed, terminated, paused, resumed and restarted.

Signals go to the whole group because servers such as hypercorn fork workers: killing
only the leader would leave a worker serving.

Each group is registered with the ``Cleanup`` the process is given (its owner's: the
command line's, the pytest plugin's, an ``Environment``'s), so that it dies even if the
runner is SIGKILLed. A process made without one owns a ``Cleanup`` while it runs.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from harness.env.cleanup import Cleanup, kill_group
from harness.env.forkserver import ForkServer
from harness.env.ports import held_by_session
from harness.errors import HarnessError

_PR_SET_PDEATHSIG = 1


# Held while a process is spawned and registered: a Ctrl-C or SIGTERM landing between the
# fork and the registration left a restate-server nobody would kill, writing into a data dir
# the teardown had already removed (seen in CI).
_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it if the runner dies (belt and braces with the
    reaper), and take the stop signals the parent held while spawning it."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


Readiness = Callable[[], bool]


def http_ready(url: str, *, ok: Callable[[int], bool] = lambda s: s < 500) -> Readiness:
    """Ready when ``url`` answers with a status that ``ok`` accepts."""

    def check() -> bool:
        try:
            return ok(httpx.get(url, timeout=0.5).status_code)
        except httpx.HTTPError:
            return False

    return check


def tcp_ready(port: int, host: str = "127.0.0.1") -> Readiness:
    """Ready when something accepts TCP connections on ``host:port``."""

    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.3):
                return True
        except OSError:
            return False

    return check


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` of a log, or ``(no log)``."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class ProcessFailed(HarnessError):
    """A managed process did not become ready; the message carries the tail of its log."""


class PortTaken(ProcessFailed):
    """A server could not have its port: another program took it between its pick and its
    bind (the server exited saying so, or the other program answered its readiness probe).
    Started again on a fresh port, it will do."""


# How the harness's own lines in a server's log begin (they say what was started, and how),
# so a reader of the log can tell them from the server's.
HARNESS_LINE = "--- harness: "

_ADDRESS_IN_USE = re.compile(r"address (already )?in use|EADDRINUSE", re.IGNORECASE)


def exited_before_ready(name: str, code: int | None, log_path: Path, tail: str) -> ProcessFailed:
    """The error for a server that exited before it was ready: ``PortTaken`` when its log
    says its address was in use (Python, Node.js, Go and Rust servers all say so)."""
    kind = PortTaken if _ADDRESS_IN_USE.search(tail) else ProcessFailed
    # The CLI prints one line, so it carries the log's last word (usually the reason).
    last = next((line.strip() for line in reversed(tail.splitlines())
                 if line.strip() and not line.startswith(HARNESS_LINE)), "")
    reason = f": {last[:200]}" if last else ""
    return kind(f"{name} exited with code {code} before it was ready{reason} (its log: {log_path})\n"
                f"the log's last lines:\n{tail}")


T = TypeVar("T")


def retry_on_taken_port(start: Callable[[], T], move: Callable[[], None], attempts: int = 3) -> T:
    """``start()``; while it fails because a port was taken meanwhile (``PortTaken``),
    ``move()`` to fresh ports and start again, ``attempts`` times in all."""
    for _ in range(attempts - 1):
        try:
            return start()
        except PortTaken:
            move()
    return start()


@dataclass
class ManagedProcess:
    """One process group the harness owns. ``argv`` and ``env`` are reused on restart,
    so a restarted process listens on the same ports. ``cleanup`` registers the group
    (None: the process owns a ``Cleanup`` from spawn until it is reaped)."""

    name: str
    argv: Sequence[str]
    log_path: Path
    ready: Readiness
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready_timeout_s: float = 20.0
    # The port it must serve on: readiness there counts only if this process holds the
    # listener (a server that lost its port to another program exits, and the other answers).
    listens_on: int | None = None
    # How to make it again on a fresh port, whatever reaches it following it there (its
    # links re-pointed); None: a lost port is an error.
    relocate: "Callable[[], ManagedProcess] | None" = field(default=None, repr=False)
    cleanup: Cleanup | None = field(default=None, repr=False)
    # Forks our own Python servers from preloaded libraries instead of starting them cold.
    launcher: ForkServer | None = field(default=None, repr=False)
    _own_cleanup: Cleanup | None = field(default=None, init=False, repr=False)
    _popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _paused: bool = field(default=False, init=False)
    _reaped: bool = field(default=False, init=False)

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> "ManagedProcess":
        """Spawn and wait until ready. A restart on the same port can lose it to another
        program in the instant it is free; with ``relocate``, it then starts on a fresh one."""
        self.spawn()
        retry_on_taken_port(self.wait_until_ready, self._relocate, attempts=2 if self.relocate else 1)
        return self

    def _relocate(self) -> None:
        """Become the process ``relocate`` makes on a fresh port, and spawn it."""
        assert self.relocate is not None
        moved = self.relocate()
        self.argv, self.env, self.ready, self.listens_on = moved.argv, moved.env, moved.ready, moved.listens_on
        self.spawn()

    def spawn(self) -> "ManagedProcess":
        """Start the process without waiting for it: several can then boot side by side.
        Call from a long-lived thread: the parent-death signal fires when the spawning
        *thread* exits, not only the process."""
        if self.running:
            raise HarnessError(f"{self.name} is already running (pid {self.pid})")
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            return self._spawn()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def _spawn(self) -> "ManagedProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        log.write(f"{HARNESS_LINE}starting {self.name}: {' '.join(self.argv)}\n".encode())
        log.flush()
        if self.launcher is not None and self.launcher.can_run(self.argv):
            try:
                self._popen = self.launcher.spawn(  # type: ignore[assignment]
                    self.argv, env={**os.environ, **self.env}, cwd=Path(self.cwd or os.getcwd()), log_path=self.log_path)
                log.close()
                return self._registered()
            except HarnessError as exc:  # the fork server is gone: start it the ordinary way
                log.write(f"{HARNESS_LINE}{exc}; starting it as a process\n".encode())
                log.flush()
        try:
            self._popen = subprocess.Popen(
                list(self.argv),
                env={**os.environ, **self.env},
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except FileNotFoundError as exc:
            raise HarnessError(f"cannot start {self.name}: {exc.filename} not found") from None
        finally:
            log.close()
        return self._registered()

    def _registered(self) -> "ManagedProcess":
        assert self._popen is not None
        self._paused = False
        self._reaped = False
        registry = self._registry()
        registry.register_group(self._popen.pid)
        registry.raise_if_interrupted()  # a signal that landed inside fork's hooks was swallowed
        return self

    def _registry(self) -> Cleanup:
        if self.cleanup is not None:
            return self.cleanup
        if self._own_cleanup is None:
            self._own_cleanup = Cleanup()
        return self._own_cleanup

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        next_look = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            if self._popen is not None and self._popen.poll() is not None:
                code = self._popen.returncode
                self._reap()
                raise exited_before_ready(self.name, code, self.log_path, self.log_tail())
            if self.ready():
                self._check_listener()
                return
            if time.monotonic() >= next_look:
                self._check_log_for_taken_port()
                next_look = time.monotonic() + 0.5
            time.sleep(0.02)
        self.kill()
        raise ProcessFailed(
            f"{self.name} was not ready after {self.ready_timeout_s:.0f}s (its log: {self.log_path})\n"
            f"the log's last lines:\n{self.log_tail()}"
        )

    def _check_log_for_taken_port(self) -> None:
        # Toxiproxy logs "address already in use" and keeps running without its API, so
        # waiting for it to exit or answer would only end at the deadline.
        tail = self.log_tail()
        if _ADDRESS_IN_USE.search(tail):
            self.kill()
            raise PortTaken(f"{self.name} could not listen on its port and kept running (its log: {self.log_path})\n"
                            f"the log's last lines:\n{tail}")

    def _check_listener(self) -> None:
        if self.listens_on is None or self.pid is None:
            return
        if held_by_session(self.listens_on, self.pid) is False:  # its own session: see spawn
            self.kill()
            raise PortTaken(
                f"{self.name} could not listen on port {self.listens_on}: another program holds it, "
                "and answered its readiness probe"
            )

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused

    # --- faults ------------------------------------------------------------------------
    def _signal(self, sig: signal.Signals) -> None:
        if self._popen is None or self._reaped:
            raise HarnessError(f"{self.name} is not running")
        try:
            os.killpg(self._popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL to the whole group: a crash, with no chance to flush anything."""
        if self._popen is None or self._reaped:
            return  # never signal a group id that may since have been reused
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGKILL)
        self._reap()

    def terminate(self, grace_s: float = 3.0) -> bool:
        """SIGTERM to the group; SIGKILL after ``grace_s``. Returns True if it had to escalate
        (a Python Restate app ignores SIGTERM once it has served a request)."""
        if self._popen is None or self._reaped:
            return False
        self._signal(signal.SIGTERM)
        try:
            self._popen.wait(timeout=grace_s)
            escalated = False
        except subprocess.TimeoutExpired:
            escalated = True
        self.kill()
        return escalated

    def pause(self) -> None:
        """SIGSTOP to the group: the process holds its sockets but does nothing."""
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        self._signal(signal.SIGCONT)
        self._paused = False

    def restart(self) -> "ManagedProcess":
        """Kill if still running, then start again with the same command, env and ports."""
        self.kill()
        return self.start()

    def stop(self) -> None:
        self.kill()

    def _reap(self) -> None:
        if self._popen is None:
            return
        pgid = self._popen.pid
        kill_group(pgid)  # stray grandchildren die with the group
        try:
            self._popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._registry().forget_group(pgid)
        if self._own_cleanup is not None:  # nothing of ours is left for it to guard
            self._own_cleanup.close()
            self._own_cleanup = None
        self._paused = False
        self._reaped = True

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)

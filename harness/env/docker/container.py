"""One container as a ``Process`` (``harness.context``): what a fault does to a process, it
does through the container API on the same container, so a crash keeps its filesystem
(restate-server's journal) for the restart.

    kill        docker kill -s KILL          (unpaused first: a paused one must die too)
    terminate   docker stop -t <grace>       (True if the grace ran out and it was killed)
    pause       docker pause                 resume   docker unpause
    start       docker start, then ready     restart  kill, then start
    stop        its logs saved, docker rm -f (teardown: nothing is left)

Its output goes to ``log_path`` as the container writes it (``docker logs --follow``,
followed again after each start, lines deduplicated by their timestamps), so the file
reads like a process's log. It carries its owner's ``Cleanup`` labels: if the runner dies,
the reaper removes it.
"""

from __future__ import annotations

import math
import threading
import time
from calendar import timegm
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.env.cleanup import Cleanup
from harness.env.docker import engine as docker_engine
from harness.env.process import HARNESS_LINE, ProcessFailed, exited_before_ready, log_tail
from harness.errors import HarnessError

Readiness = Callable[[], bool]


@dataclass
class ContainerProcess:
    """A container the harness owns, on the host's network. ``spawn`` creates and starts
    it through testcontainers; later starts reuse it."""

    name: str
    image: str
    log_path: Path
    ready: Readiness
    cleanup: Cleanup = field(repr=False)
    env: dict[str, str] = field(default_factory=dict)
    command: Sequence[str] | None = None  # None: the image's CMD
    ready_timeout_s: float = 60.0
    port: int | None = None  # the port it serves on, when it is an agent
    _container: Any = field(default=None, init=False, repr=False)  # testcontainers' DockerContainer
    _paused: bool = field(default=False, init=False)
    _removed: bool = field(default=False, init=False)
    _follower: threading.Thread | None = field(default=None, init=False, repr=False)
    _log_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _last_ns: int = field(default=0, init=False, repr=False)  # the timestamp of the last line logged

    # --- lifecycle ---------------------------------------------------------------------
    def spawn(self) -> "ContainerProcess":
        """Create and start the container without waiting for it to be ready."""
        if self._container is not None:
            return self._start_again()
        docker_engine.testcontainers_ready()
        from testcontainers.core.container import DockerContainer  # noqa: PLC0415

        labels = self.cleanup.container_labels()  # before it exists: the reaper covers it from birth
        container = DockerContainer(self.image).with_envs(**self.env).with_kwargs(
            network_mode="host", labels=labels, stop_signal="SIGTERM",
        )
        container.with_name(f"rrh-{self.name}-{self.cleanup.owner_id[:8]}-{time.monotonic_ns() % 10**9}")
        if self.command is not None:
            container.with_command(list(self.command))
        self._write_header()
        self._container = container
        try:
            container.start()
        except Exception as exc:
            self.stop()
            raise HarnessError(f"cannot start the {self.name} container ({self.image}): {_first_line(exc)}") from None
        self._follow()
        self.cleanup.raise_if_interrupted()
        return self

    def _start_again(self) -> "ContainerProcess":
        if self._removed:
            raise HarnessError(f"{self.name}'s container was removed")
        if self.running:
            raise HarnessError(f"{self.name} is already running")
        self._write_header()
        self._wrapped().start()
        self._follow()
        return self

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            status, code = self._state()
            if status in ("exited", "dead"):
                self._settle_logs()
                raise exited_before_ready(self.name, code, self.log_path, self.log_tail())
            if status == "running" and self.ready():
                return
            time.sleep(0.05)
        self.kill()
        raise ProcessFailed(
            f"{self.name} was not ready after {self.ready_timeout_s:.0f}s (its log: {self.log_path})\n"
            f"the log's last lines:\n{self.log_tail()}"
        )

    def start(self) -> "ContainerProcess":
        """Start (create it the first time) and wait until ready."""
        self.spawn()
        self.wait_until_ready()
        return self

    @property
    def running(self) -> bool:
        """Up, paused or not (as a paused process is still running)."""
        return self._container is not None and not self._removed and self._state()[0] in ("running", "paused")

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def container_id(self) -> str | None:
        return self._wrapped().id if self._container is not None and not self._removed else None

    # --- faults ------------------------------------------------------------------------
    def kill(self) -> None:
        """SIGKILL: a crash. The container stays, with its filesystem, for a restart."""
        if not self.running:
            return
        if self._state()[0] == "paused":
            self._wrapped().unpause()
        self._paused = False
        try:
            self._wrapped().kill(signal="SIGKILL")
        except Exception:  # it died on its own meanwhile
            pass
        self._wait_stopped()

    def terminate(self, grace_s: float = 3.0) -> bool:
        """SIGTERM, then SIGKILL after ``grace_s`` (whole seconds for Docker, rounded up).
        Returns True if it had to escalate."""
        if not self.running:
            return False
        if self._paused:
            self.resume()
        started = time.monotonic()
        self._wrapped().stop(timeout=max(1, math.ceil(grace_s)))
        self._wait_stopped()
        code = self._state()[1]
        return code == 137 or time.monotonic() - started >= max(1, math.ceil(grace_s))

    def pause(self) -> None:
        """docker pause (the cgroup freezer): it holds its sockets but does nothing."""
        if not self.running:
            raise HarnessError(f"{self.name} is not running")
        self._wrapped().pause()
        self._paused = True

    def resume(self) -> None:
        if not self.running:
            raise HarnessError(f"{self.name} is not running")
        self._wrapped().unpause()
        self._paused = False

    def restart(self) -> "ContainerProcess":
        """Kill if running, then start the same container again: same data, same ports."""
        self.kill()
        return self.start()

    def stop(self) -> None:
        """Teardown: its logs are saved, then the container and its anonymous volumes go."""
        if self._container is None or self._removed:
            return
        self._removed = True
        try:
            self._wrapped().remove(force=True, v=True)
        except Exception:
            pass  # gone already (the reaper, or the engine): nothing to keep
        self._join_follower()
        try:
            self._container.get_docker_client().client.close()
        except Exception:
            pass

    # --- logs --------------------------------------------------------------------------
    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)

    def _write_header(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_lock, open(self.log_path, "ab") as log:
            log.write(f"{HARNESS_LINE}starting {self.name}: container of image {self.image}\n".encode())

    def _follow(self) -> None:
        """Follow the container's output into the log until it stops (one thread per start)."""
        self._join_follower()
        since = self._last_ns / 1e9 if self._last_ns else None
        self._follower = threading.Thread(target=self._copy_logs, args=(since,), name=f"logs-{self.name}", daemon=True)
        self._follower.start()

    def _copy_logs(self, since: float | None) -> None:
        try:
            stream = self._wrapped().logs(stream=True, follow=True, timestamps=True, **({"since": since} if since else {}))
            pending = b""
            for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                self._append(lines)
            if pending:
                self._append([pending])
        except Exception:
            pass  # the container went away: what was read is written

    def _append(self, lines: list[bytes]) -> None:
        out = []
        with self._log_lock:
            for line in lines:
                stamp, _, text = line.partition(b" ")
                ns = _timestamp_ns(stamp)
                if ns is None:
                    out.append(line + b"\n")
                    continue
                if ns <= self._last_ns:
                    continue  # already logged (a follow after a restart starts a little early)
                self._last_ns = ns
                out.append(text + b"\n")
            if out:
                with open(self.log_path, "ab") as log:
                    log.write(b"".join(out))

    def _settle_logs(self) -> None:
        """Let the follower write what a stopped container printed."""
        self._join_follower()

    def _join_follower(self, timeout_s: float = 5.0) -> None:
        if self._follower is not None:
            self._follower.join(timeout_s)
            self._follower = None

    # --- the container -----------------------------------------------------------------
    def _wrapped(self) -> Any:
        assert self._container is not None, f"{self.name} was never started"
        return self._container.get_wrapped_container()

    def _state(self) -> tuple[str, int | None]:
        """(status, exit code) from the engine: created, running, paused, exited, dead, or
        removed when it is gone."""
        try:
            container = self._wrapped()
            container.reload()
        except Exception:
            return "removed", None
        state = container.attrs.get("State", {})
        return str(state.get("Status", "unknown")), state.get("ExitCode")

    def _wait_stopped(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self._state()[0] in ("running", "paused", "restarting") and time.monotonic() < deadline:
            time.sleep(0.02)
        self._settle_logs()


def _timestamp_ns(stamp: bytes) -> int | None:
    """Docker's RFC 3339 timestamp (``2026-11-26T04:36:03.738184514Z``) in nanoseconds."""
    try:
        text = stamp.decode()
        seconds = timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
        fraction = text[20:].rstrip("Z") if len(text) > 19 and text[19] == "." else ""
        return seconds * 10**9 + int(fraction.ljust(9, "0")[:9] or 0)
    except (ValueError, UnicodeDecodeError):
        return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]


__all__ = ["ContainerProcess"]

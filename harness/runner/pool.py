"""Environments kept from one scenario to the next: starting restate-server, Toxiproxy, the
fake LLM and the agents is most of a short scenario's time. A scenario that leaves its
environment healthy hands it back; the pool clears it (``Environment.recycle``: rules,
calls, ledgers, Restate's invocations purged) and checks that nothing is left before the
next scenario with the same agents and Restate settings gets it. Anything else (a process
still dead or paused, an invocation not done, a link still cut, state left behind) and the
environment is torn down: the next scenario starts a fresh one, as it always did.

Each scenario still gets its own logs: the slice of every log written while it held the
environment is copied into its folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness.env.cleanup import Cleanup
from harness.env.environment import AgentSpec, Environment
from harness.env.forkserver import ForkServer
from harness.settings import Settings

# Idle environments kept at most: the catalogue alternates between two agent sets; a
# validation between its normal, always-replay and long-inactivity runs.
MAX_IDLE = 3


@dataclass(frozen=True)
class Shape:
    """What must match for a scenario to reuse an environment."""

    agents: tuple[AgentSpec, ...]
    inactivity_timeout_s: float | None
    always_replay: bool
    llm_timeout_s: float | None = None  # None: the environment's default

    @property
    def llm_timeout(self) -> dict[str, float]:
        """As ``Environment`` keywords: nothing when the default applies."""
        return {} if self.llm_timeout_s is None else {"llm_timeout_s": self.llm_timeout_s}


@dataclass
class Lease:
    """An environment lent to one scenario; ``reused`` says whether it ran another before,
    ``fresh_because`` why a kept one could not be used (empty when none was kept)."""

    environment: Environment
    reused: bool
    fresh_because: list[str] = field(default_factory=list)


@dataclass
class EnvironmentPool:
    """``with EnvironmentPool(root, settings=..., cleanup=...) as pool:`` then, per scenario,
    ``with pool.lease(shape, scenario_dir) as lease:``. Not shared between threads: give
    each worker its own (a process dies with the thread that started it)."""

    root: Path
    settings: Settings
    cleanup: Cleanup
    reuse: bool = True
    launcher: ForkServer | None = None  # shared by every worker's pool: it forks under a lock
    _idle: dict[Shape, Environment] = field(default_factory=dict, init=False)
    _not_reusable: dict[Shape, list[str]] = field(default_factory=dict, init=False)
    _made: int = field(default=0, init=False)

    def __enter__(self) -> "EnvironmentPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        while self._idle:
            _, environment = self._idle.popitem()
            environment.__exit__(None, None, None)

    @contextmanager
    def lease(self, shape: Shape, scenario_dir: Path) -> Iterator[Lease]:
        kept = self._idle.pop(shape, None)
        if kept is not None:
            lease = Lease(kept, reused=True)
        else:
            lease = Lease(self._start(shape), reused=False, fresh_because=self._not_reusable.pop(shape, []))
        logs = lease.environment.folder / "logs"
        offsets = _sizes(logs) if lease.reused else {}  # a fresh one's start-up belongs to this scenario
        healthy = False
        try:
            yield lease
            healthy = True
        finally:
            _copy_slices(logs, offsets, scenario_dir / "logs")
            self._give_back(shape, lease.environment, healthy)

    def _start(self, shape: Shape) -> Environment:
        self._made += 1
        environment = Environment(
            shape.agents,
            self.root / f"environment-{self._made}",
            inactivity_timeout_s=shape.inactivity_timeout_s,
            always_replay=shape.always_replay,
            **shape.llm_timeout,
            settings=self.settings,
            cleanup=self.cleanup,
            launcher=self.launcher,
        )
        return environment.__enter__()

    def _give_back(self, shape: Shape, environment: Environment, healthy: bool) -> None:
        problems = environment.recycle() if healthy and self.reuse else ["not reused"]
        if problems:
            environment.__exit__(None, None, None)
            if healthy and self.reuse:
                self._not_reusable[shape] = problems
            return
        if len(self._idle) >= MAX_IDLE:  # the least recently used goes
            oldest = next(iter(self._idle))
            self._idle.pop(oldest).__exit__(None, None, None)
        self._idle[shape] = environment


def _sizes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in folder.glob("*.log")} if folder.is_dir() else {}


def _copy_slices(source: Path, offsets: dict[str, int], target: Path) -> None:
    """What each log gained since ``offsets`` were taken, into ``target``."""
    if not source.is_dir():
        return
    target.mkdir(parents=True, exist_ok=True)
    for log in source.glob("*.log"):
        start = offsets.get(log.name, 0)
        if start == 0:
            shutil.copyfile(log, target / log.name)
            continue
        with log.open("rb") as whole, (target / log.name).open("wb") as part:
            whole.seek(start)
            shutil.copyfileobj(whole, part)


__all__ = ["EnvironmentPool", "Lease", "Shape"]

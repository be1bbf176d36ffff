"""The nemesis: faults as small values. Each has a target, a trigger that starts it and
a trigger that heals it, and leaves a ``FaultRecord`` of when it started and healed, so
the checker and the report read faults like any other event of the run.

What a fault does (``start``/``heal``) is kept apart from when (its triggers), as in
Jepsen: ``Pause`` is ``Kill`` with SIGSTOP/SIGCONT instead of SIGKILL/restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .triggers import After, Trigger

if TYPE_CHECKING:
    from .scenario import RunContext


@dataclass
class FaultRecord:
    """One fault as it happened; times are epoch seconds (``at_s``/``healed_s`` in results
    are relative to the start of the workload)."""

    kind: str
    target: str
    started_at: float
    healed_at: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def overlaps(self, start: float, end: float | None) -> bool:
        """Did this fault's window intersect [start, end]? An open end means 'until now'."""
        healed = self.healed_at if self.healed_at is not None else float("inf")
        return start <= healed and (end is None or end >= self.started_at)


class Fault(Protocol):
    kind: ClassVar[str]
    target: str
    when: Trigger
    heal: Trigger | None

    def start(self, run: "RunContext") -> dict[str, Any]: ...

    def stop(self, run: "RunContext") -> None: ...


@dataclass(frozen=True)
class Kill:
    """SIGKILL the target's process group (an agent name, ``restate`` or ``llm``), then
    restart it on the same port (and, for ``restate``, the same data dir)."""

    kind: ClassVar[str] = "kill"
    target: str
    when: Trigger
    heal: Trigger | None = After(0.2)

    def start(self, run: "RunContext") -> dict[str, Any]:
        run.env.process(self.target).kill()
        return {}

    def stop(self, run: "RunContext") -> None:
        run.env.process(self.target).restart()


@dataclass(frozen=True)
class Terminate:
    """SIGTERM, escalating to SIGKILL after ``grace_s`` (a Python Restate app ignores
    SIGTERM once it has served a request), then restart."""

    kind: ClassVar[str] = "terminate"
    target: str
    when: Trigger
    heal: Trigger | None = After(0.2)
    grace_s: float = 2.0

    def start(self, run: "RunContext") -> dict[str, Any]:
        escalated = run.env.process(self.target).terminate(self.grace_s)
        return {"escalated_to_kill": escalated, "grace_s": self.grace_s}

    def stop(self, run: "RunContext") -> None:
        run.env.process(self.target).restart()


@dataclass(frozen=True)
class Pause:
    """SIGSTOP the target's group; SIGCONT when healed. The process keeps its sockets, so
    Restate sees silence, not a refused connection."""

    kind: ClassVar[str] = "pause"
    target: str
    when: Trigger
    heal: Trigger | None = After(1.0)

    def start(self, run: "RunContext") -> dict[str, Any]:
        run.env.process(self.target).pause()
        return {}

    def stop(self, run: "RunContext") -> None:
        run.env.process(self.target).resume()


@dataclass(frozen=True)
class Latency:
    """Toxiproxy latency (with jitter) on a link, from ``when`` until healed."""

    kind: ClassVar[str] = "latency"
    target: str  # a link name, e.g. "router->llm"
    when: Trigger
    heal: Trigger | None = None  # None: stays until the end of the run
    latency_ms: int = 300
    jitter_ms: int = 0
    stream: str = "downstream"

    def start(self, run: "RunContext") -> dict[str, Any]:
        name = run.env.link(self.target).add_toxic(
            "latency", stream=self.stream, latency=self.latency_ms, jitter=self.jitter_ms
        )
        return {"toxic": name, "latency_ms": self.latency_ms, "jitter_ms": self.jitter_ms, "stream": self.stream}

    def stop(self, run: "RunContext") -> None:
        run.env.link(self.target).remove_toxic(f"latency_{self.stream}")


def now() -> float:
    return time.time()

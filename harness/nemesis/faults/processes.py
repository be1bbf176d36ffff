"""Faults on an agent's (or restate-server's) process: kill, terminate, pause, restart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from harness.context import RunContext
from harness.nemesis.triggers import After, Trigger


@dataclass(frozen=True)
class Kill:
    """SIGKILL the target's process group (an agent name, ``restate`` or ``llm``), then
    restart it on the same port (and, for ``restate``, the same data dir)."""

    kind: ClassVar[str] = "kill"
    target: str
    when: Trigger
    until: Trigger | None = After(0.2)

    def apply(self, run: RunContext) -> dict[str, Any]:
        run.process(self.target).kill()
        return {}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(self.target).restart()


@dataclass(frozen=True)
class Terminate:
    """SIGTERM, escalating to SIGKILL after ``grace_s`` (a Python Restate app ignores
    SIGTERM once it has served a request), then restart."""

    kind: ClassVar[str] = "terminate"
    target: str
    when: Trigger
    until: Trigger | None = After(0.2)
    grace_s: float = 2.0

    def apply(self, run: RunContext) -> dict[str, Any]:
        escalated = run.process(self.target).terminate(self.grace_s)
        return {"escalated_to_kill": escalated, "grace_s": self.grace_s}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(self.target).restart()


@dataclass(frozen=True)
class Pause:
    """SIGSTOP the target's group; SIGCONT when undone. The process keeps its sockets, so
    Restate sees silence, not a refused connection."""

    kind: ClassVar[str] = "pause"
    target: str
    when: Trigger
    until: Trigger | None = After(1.0)

    def apply(self, run: RunContext) -> dict[str, Any]:
        run.process(self.target).pause()
        return {}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(self.target).resume()


@dataclass(frozen=True)
class Restart:
    """A graceful restart: SIGTERM (escalating to SIGKILL after ``grace_s``) and start again
    at once. The fault window is the time the target was down."""

    kind: ClassVar[str] = "restart"
    target: str
    when: Trigger
    until: Trigger | None = After(0)
    grace_s: float = 2.0

    def apply(self, run: RunContext) -> dict[str, Any]:
        escalated = run.process(self.target).terminate(self.grace_s)
        return {"escalated_to_kill": escalated}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(self.target).start()

"""Faults on a Toxiproxy link: toxics (latency, reset, timeout, bandwidth, slicer, limit) and partitions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from harness.context import RunContext
from harness.nemesis.triggers import After, AtStart, Trigger


@dataclass(frozen=True)
class _Toxic:
    """A Toxiproxy toxic on a link (``restate->router``, ``router->llm``, ``client->restate``…),
    from ``when`` until undone; ``until=None`` keeps it to the end of the run."""

    kind: ClassVar[str]
    target: str
    when: Trigger = AtStart()
    until: Trigger | None = None
    stream: str = "downstream"  # or "upstream": towards the proxied server

    def attributes(self) -> dict[str, Any]:
        raise NotImplementedError

    def apply(self, run: RunContext) -> dict[str, Any]:
        attributes = self.attributes()
        toxic = run.link(self.target).add_toxic(self.kind, stream=self.stream, **attributes)
        return {"stream": self.stream, "toxic": toxic, **attributes}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.link(self.target).remove_toxic(applied["toxic"])


@dataclass(frozen=True)
class Latency(_Toxic):
    kind: ClassVar[str] = "latency"
    latency_ms: int = 300
    jitter_ms: int = 0

    def attributes(self) -> dict[str, Any]:
        return {"latency": self.latency_ms, "jitter": self.jitter_ms}


@dataclass(frozen=True)
class ResetPeer(_Toxic):
    """Connections are reset (TCP RST) when data flows, after ``timeout_ms``."""

    kind: ClassVar[str] = "reset_peer"
    timeout_ms: int = 0

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.timeout_ms}


@dataclass(frozen=True)
class Timeout(_Toxic):
    """Data stops flowing; the connection closes after ``timeout_ms`` (0: never)."""

    kind: ClassVar[str] = "timeout"
    timeout_ms: int = 0

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.timeout_ms}


@dataclass(frozen=True)
class Bandwidth(_Toxic):
    kind: ClassVar[str] = "bandwidth"
    rate_kb_s: int = 1

    def attributes(self) -> dict[str, Any]:
        return {"rate": self.rate_kb_s}


@dataclass(frozen=True)
class Slicer(_Toxic):
    """Data is cut into small packets with a delay between them."""

    kind: ClassVar[str] = "slicer"
    average_size: int = 16
    size_variation: int = 8
    delay_us: int = 2000

    def attributes(self) -> dict[str, Any]:
        return {"average_size": self.average_size, "size_variation": self.size_variation, "delay": self.delay_us}


@dataclass(frozen=True)
class LimitData(_Toxic):
    """The connection closes after ``bytes`` have passed."""

    kind: ClassVar[str] = "limit_data"
    bytes: int = 1024

    def attributes(self) -> dict[str, Any]:
        return {"bytes": self.bytes}


@dataclass(frozen=True)
class Partition:
    """The link goes down: its proxy stops listening and drops its connections."""

    kind: ClassVar[str] = "partition"
    target: str
    when: Trigger
    until: Trigger | None = After(1.0)

    def apply(self, run: RunContext) -> dict[str, Any]:
        run.link(self.target).cut()
        return {}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.link(self.target).restore()

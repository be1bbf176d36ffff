"""Faults on the agent's tools: recording stubs, proxies and MCP servers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from harness.context import RunContext
from harness.nemesis.triggers import AtStart, Trigger
from harness.stubs.rules import ToolRule


@dataclass(frozen=True)
class _ToolFault:
    """The tool service ``target`` (a ``--stub``, ``--proxy`` or ``--mcp`` name) misbehaves for
    its next ``times`` calls (``None``: until undone), after letting ``skip`` through."""

    kind: ClassVar[str]
    target: str
    times: int | None = 1
    skip: int = 0
    tool: str | None = None  # only this tool (an MCP tool's name, or "METHOD /path")
    when: Trigger = AtStart()
    until: Trigger | None = None

    def rule(self) -> ToolRule:
        raise NotImplementedError

    def apply(self, run: RunContext) -> dict[str, Any]:
        rule_id = run.stub(self.target).add_rule(self.rule())
        return {"rule_id": rule_id, "times": self.times, "skip": self.skip, **({"tool": self.tool} if self.tool else {})}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.stub(self.target).remove_rule(applied["rule_id"])


@dataclass(frozen=True)
class ToolError(_ToolFault):
    """A transient failure: HTTP ``status`` (a 429 with ``Retry-After``); over MCP, a tool
    result with ``isError`` (``mcp_error="result"``) or a JSON-RPC error (``"jsonrpc"``)."""

    kind: ClassVar[str] = "tool_error"
    status: int = 503
    retry_after_s: float | None = None
    mcp_error: str = "result"

    def rule(self) -> ToolRule:
        return ToolRule("error", status=self.status, retry_after_s=self.retry_after_s,
                        mcp_error=self.mcp_error, skip=self.skip, times=self.times, tool=self.tool)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ToolHang(_ToolFault):
    """No answer at all: only the agent's timeout (or Restate's abort) ends the call."""

    kind: ClassVar[str] = "tool_hang"

    def rule(self) -> ToolRule:
        return ToolRule("hang", skip=self.skip, times=self.times, tool=self.tool)


@dataclass(frozen=True)
class ToolSlow(_ToolFault):
    """The answer comes after ``delay_s``."""

    kind: ClassVar[str] = "tool_slow"
    delay_s: float = 2.0

    def rule(self) -> ToolRule:
        return ToolRule("slow", delay_s=self.delay_s, skip=self.skip, times=self.times, tool=self.tool)


@dataclass(frozen=True)
class ToolCut(_ToolFault):
    """The tool acts, then the connection drops before its answer is whole: the agent cannot
    know whether it happened."""

    kind: ClassVar[str] = "tool_cut"

    def rule(self) -> ToolRule:
        return ToolRule("cut", skip=self.skip, times=self.times, tool=self.tool)


@dataclass(frozen=True)
class ToolHold(_ToolFault):
    """Hold tool call ``skip + 1`` until the run releases it or the client leaves: the point
    a crash is aimed at (``Kill(..., when=ToolCallHeld(stub, k))``)."""

    kind: ClassVar[str] = "tool_hold"

    def rule(self) -> ToolRule:
        return ToolRule("hold", skip=self.skip, times=self.times, tool=self.tool)

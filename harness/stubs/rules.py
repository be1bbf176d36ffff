"""Faults on tool calls: what a stub, a proxy or an MCP server does to the calls it receives,
as rules the harness adds and removes while a run is live (the fake LLM's rules, for tools).

A rule hits the next ``times`` calls (``None``: until removed) after letting ``skip`` through,
so a fault can be aimed at call k. Calls are counted per rule, in arrival order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ToolAction = Literal["error", "hang", "slow", "cut", "hold"]
ACTIONS: tuple[str, ...] = ("error", "hang", "slow", "cut", "hold")
# How an MCP tool fails: a tool result with isError (the tool ran and said no), or a
# JSON-RPC error (the server could not run it). Over plain HTTP an error is its status.
McpError = Literal["result", "jsonrpc"]


@dataclass(frozen=True)
class ToolRule:
    """One fault on tool calls.

    - ``error``: HTTP ``status`` (with ``Retry-After`` for a 429); over MCP, ``mcp_error``.
    - ``hang``: no answer until the client gives up (only a timeout ends it).
    - ``slow``: the answer comes after ``delay_s``.
    - ``cut``: the tool acts, then the connection drops before its answer is complete.
    - ``hold``: the answer waits until released (or the client leaves): a point to crash at.
    """

    action: ToolAction
    status: int = 503
    retry_after_s: float | None = None
    delay_s: float = 0.0
    mcp_error: McpError = "result"
    skip: int = 0
    times: int | None = 1
    tool: str | None = None  # only calls of this tool (an MCP tool's name, or an HTTP path)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"a tool fault's action is one of {', '.join(ACTIONS)}; got {self.action!r}")
        if not 400 <= self.status <= 599:
            raise ValueError(f"an error status must be 400-599, got {self.status}")
        if self.skip < 0 or (self.times is not None and self.times < 1) or self.delay_s < 0:
            raise ValueError("skip and delay_s must be >= 0, times >= 1 (or null: until removed)")
        if self.mcp_error not in ("result", "jsonrpc"):
            raise ValueError(f"mcp_error is 'result' or 'jsonrpc', got {self.mcp_error!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> "ToolRule":
        if not isinstance(data, dict):
            raise ValueError(f"a tool rule is a JSON object, got {type(data).__name__}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown tool rule field(s): {', '.join(sorted(unknown))}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"bad tool rule: {exc}") from None


@dataclass
class _Scripted:
    id: str
    rule: ToolRule
    seen: int = 0  # matching calls so far (skipped ones included)


@dataclass
class ToolRules:
    """The rules of one stub, first added first tried; a call takes the first that hits it."""

    _rules: list[_Scripted] = field(default_factory=list)
    _next: int = 1

    def add(self, rule: ToolRule) -> str:
        rule_id = f"t{self._next}"
        self._next += 1
        self._rules.append(_Scripted(rule_id, rule))
        return rule_id

    def remove(self, rule_id: str) -> bool:
        before = len(self._rules)
        self._rules = [r for r in self._rules if r.id != rule_id]
        return len(self._rules) < before

    def clear(self) -> None:
        self._rules.clear()

    def pick(self, tool: str) -> ToolRule | None:
        """The rule that hits this call, counting it against every rule it matches."""
        hit = None
        for scripted in self._rules:
            rule = scripted.rule
            if rule.tool is not None and rule.tool != tool:
                continue
            scripted.seen += 1
            spent = rule.times is not None and scripted.seen > rule.skip + rule.times
            if hit is None and scripted.seen > rule.skip and not spent:
                hit = rule
        return hit

    def to_json(self) -> list[dict[str, Any]]:
        return [{"id": r.id, "seen": r.seen, "rule": r.rule.to_json()} for r in self._rules]

"""The harness's view of the fake's ledger: `LLMCall` values and the `Calls` list."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class LLMCall:
    """One LLM request the fake received, as `GET /_fake/calls` reported it."""

    id: int
    arrived_at: float
    finished_at: float | None
    released_at: float | None
    disconnected_at: float | None
    held: bool
    token: str | None
    fingerprint: str
    model: str | None
    rule_index: int | None
    status: int | None
    outcome: str
    stream: bool
    request: dict[str, Any]
    response: Any
    usage: dict[str, int] | None
    api: str = "chat"  # the protocol: "chat", "responses" (OpenAI), "anthropic" (Messages) or "gemini"
    forwarded: bool = False  # answered by the upstream (the real LLM) rather than by a scripted rule
    rule_id: str | None = None  # the id of the rule that answered (None: the default answer)
    token_inferred: bool = False  # the auto mode took `token` from the ledger; the request carried none
    tools: tuple[str, ...] = ()  # the function tools offered, in any protocol (newer ledgers)
    tool_called: str | None = None  # the tool the fake's answer called, if it called one
    output_format: str | None = None  # "json_object", "json_schema", "strict_json_schema": structured output asked for
    strict_tools: tuple[str, ...] = ()  # the offered tools whose schema the provider would enforce
    flaw: str | None = None  # the bad answer the fake gave on purpose (a value fault), if any

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LLMCall:
        """Build from a ledger entry; fields this client does not know are ignored."""
        known = {f.name for f in fields(cls)}
        values = {name: value for name, value in data.items() if name in known}
        for name in ("tools", "strict_tools"):  # JSON gives a list; a tuple keeps the call hashable and comparable
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation the request carried, as the protocol spells it: chat and Anthropic
        `messages` (Anthropic's system prompt is apart, in `request["system"]`), Responses
        `input` items (a string input as one user message), Gemini `contents`."""
        if self.api == "responses":
            items = self.request.get("input")
            if isinstance(items, str):
                return [{"role": "user", "content": items}]
            return list(items or [])
        if self.api == "gemini":
            return list(self.request.get("contents") or [])
        return list(self.request.get("messages") or [])

    def describe(self) -> str:
        """A one-line summary for error messages."""
        return (
            f"#{self.id} outcome={self.outcome} held={self.held} status={self.status} "
            f"model={self.model} token={self.token}"
        )


class Calls(list[LLMCall]):
    """The calls the fake received, in arrival order, with a few ways to slice them."""

    @property
    def last(self) -> LLMCall:
        if not self:
            raise IndexError("the fake LLM has received no calls")
        return self[-1]

    @property
    def held(self) -> Calls:
        """The calls currently held, waiting for a release."""
        return Calls(call for call in self if call.held)

    def for_token(self, token: str) -> Calls:
        """The calls whose messages carried this correlation token."""
        return Calls(call for call in self if call.token == token)

    def by_fingerprint(self) -> dict[str, Calls]:
        """Calls grouped by request fingerprint (first arrival first); a group of 2+ is a repeat."""
        groups: dict[str, Calls] = {}
        for call in self:
            groups.setdefault(call.fingerprint, Calls()).append(call)
        return groups

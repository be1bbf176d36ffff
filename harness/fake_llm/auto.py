"""The auto mode: an answer for a request nobody scripted, so any agent runs against the fake unchanged.

Selected for a whole process (`python -m harness.fake_llm --auto`, `create_app(auto=True)`:
it answers whatever no rule matches) or by a rule (`llm.on(...).auto()`). It only decides
*what* to answer, a `Reply` or a `ToolCall`; the endpoint shapes that for chat completions
or the Responses API, whole or streamed, like any scripted answer.

- Deterministic: everything is derived from a hash of the seed and the request, its
  correlation token masked (model, messages or instructions and input, tools), so
  requests that differ only in their token get the same answer, and identical requests,
  streamed or not, get identical answers.
- A tool call when function tools are offered (hosted tools are never called) and the
  conversation holds fewer than `tool_rounds` tool results (by default: none yet), so a
  router calls a tool once, then answers with the tool's result in text. The tool is picked
  by the hash, or is the one `tool_choice` names; `tool_choice: "none"` means text. A
  `tool_choice` that requires a tool gets tool calls up to `max_tool_rounds` results.
  The arguments are a valid instance of the tool's `parameters` schema
  (`harness.fake_llm.instances`); if the schema defeats the generator, the answer is text
  saying why.
- Text otherwise: "Auto answer <hash> [<token>]".
- The correlation token: every answer (the text, every string in the arguments) carries the
  request's token. A request with none (a prompt built from an earlier answer only) uses
  the token the endpoint inferred from the ledger, if it could (`Ledger.sole_recent_token`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.fake_llm.chat import ChatRequest
from harness.fake_llm.instances import SchemaError, instance
from harness.fake_llm.rules import Auto, Reply, ToolCall

NO_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class FunctionTool:
    """A function the request offers the model: its name and its JSON Schema `parameters`."""

    name: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class ToolChoice:
    """What `tool_choice` allows: no tool, the model's pick, or a required tool (among `names`, if given)."""

    mode: Literal["none", "auto", "required"] = "auto"
    names: frozenset[str] | None = None


def answer(auto: Auto, request: ChatRequest, token: str | None) -> Reply | ToolCall:
    """What the auto mode answers to `request`, carrying `token` (the request's, or an inferred one)."""
    digest = hashlib.sha256(f"{auto.seed}:{request.api}:{request.shape}".encode()).hexdigest()
    tool = chosen_tool(auto, request, digest)
    if tool is None:
        return Reply(text(digest, token))
    try:
        arguments = instance(tool.parameters, text=token)
    except SchemaError as exc:
        return Reply(text(digest, token, note=f"no arguments for tool {tool.name!r}: {exc}"))
    if not isinstance(arguments, dict):
        return Reply(text(digest, token, note=f"tool {tool.name!r} takes {arguments!r}, not a JSON object"))
    return ToolCall(tool.name, arguments)


def text(digest: str, token: str | None, *, note: str | None = None) -> str:
    words = f"Auto answer {digest[:8]}" + (f" ({note})" if note else "")
    return f"{words} [{token}]" if token else f"{words}."


def chosen_tool(auto: Auto, request: ChatRequest, digest: str) -> FunctionTool | None:
    """The tool to call, or None to answer in text."""
    offered = function_tools(request)
    choice = tool_choice(request)
    if choice.mode == "none" or not offered:
        return None
    rounds = auto.max_tool_rounds if choice.mode == "required" else auto.tool_rounds
    if tool_results(request) >= rounds:
        return None
    # A name the request does not offer is ignored: calling an unknown tool only breaks the agent.
    allowed = [tool for tool in offered if choice.names is None or tool.name in choice.names] or offered
    preferred = [tool for tool in allowed if tool.name == auto.prefer]
    return preferred[0] if preferred else allowed[int(digest[8:16], 16) % len(allowed)]


def function_tools(request: ChatRequest) -> list[FunctionTool]:
    """The function tools offered, in order; hosted and custom tools are left out."""
    found = []
    for tool in request.body.get("tools") or []:
        if not isinstance(tool, dict) or tool.get("type") != "function":
            continue
        spec = tool.get("function") if request.api == "chat" else tool  # Responses tools are flat
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            parameters = spec.get("parameters")
            found.append(FunctionTool(spec["name"], parameters if isinstance(parameters, dict) else NO_PARAMETERS))
    return found


def tool_choice(request: ChatRequest) -> ToolChoice:
    """`tool_choice` in either API's spelling."""
    value = request.body.get("tool_choice")
    if value in ("none", "auto", "required"):
        return ToolChoice(value)
    if not isinstance(value, dict):
        return ToolChoice()
    if value.get("type") == "function":
        function = value.get("function") if isinstance(value.get("function"), dict) else value
        name = function.get("name")
        return ToolChoice("required", frozenset([name])) if isinstance(name, str) else ToolChoice("required")
    if value.get("type") == "allowed_tools":
        spec = value.get("allowed_tools") if isinstance(value.get("allowed_tools"), dict) else value  # chat nests it
        mode = "required" if spec.get("mode") == "required" else "auto"
        names = [_tool_name(tool) for tool in spec.get("tools") or []]
        return ToolChoice(mode, frozenset(name for name in names if name is not None))
    return ToolChoice("none")  # a forced hosted tool (web search, ...): the fake has none to call


def tool_results(request: ChatRequest) -> int:
    """How many tool results the conversation holds: chat `tool` messages, Responses `*_call_output` items."""
    if request.api == "chat":
        items = request.body.get("messages")
        return sum(1 for m in items or [] if isinstance(m, dict) and m.get("role") in ("tool", "function"))
    items = request.body.get("input")
    if not isinstance(items, list):
        return 0
    return sum(1 for item in items if isinstance(item, dict) and str(item.get("type", "")).endswith("_call_output"))


def _tool_name(tool: Any) -> str | None:
    if not isinstance(tool, dict):
        return None
    function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
    name = function.get("name")
    return name if isinstance(name, str) else None

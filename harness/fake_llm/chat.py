"""A read-only view of one LLM request, and how an OpenAI chat-completions request is read into it.

Everything the fake needs to know about a request (its texts, its correlation token,
its fingerprint, a token-count estimate, the tools it offers) is worked out once, here,
so that rule matching, the auto mode and the ledger agree on what the request said. The
other protocols read their requests into the same view: the Responses API
(`harness.fake_llm.responses`), Anthropic Messages (`harness.fake_llm.anthropic`) and
Gemini (`harness.fake_llm.gemini`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal

Api = Literal["chat", "responses", "anthropic", "gemini"]

DEFAULT_TOKEN_PATTERN = r"rrh-[0-9a-f]{12}"
DEFAULT_MODEL = "fake-model"
# The schema of a function that declares no parameters.
NO_PARAMETERS: Mapping[str, Any] = MappingProxyType({"type": "object", "properties": {}})


class RequestError(ValueError):
    """A request the fake cannot answer as asked (an unknown Gemini method, say): answered
    with `status` and the message, in the protocol's error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class FunctionTool:
    """A function the request offers the model: its name, its `parameters` as JSON Schema,
    and whether the request asks the provider to enforce that schema (`strict`)."""

    name: str
    parameters: Mapping[str, Any]
    strict: bool = False


@dataclass(frozen=True)
class OutputFormat:
    """The structured output a request asks for: any JSON object ("json_object"), or an
    instance of `schema` ("json_schema"), which the provider enforces when `strict` (a real
    provider then never answers JSON that breaks it, short of a cut or a refusal)."""

    kind: Literal["json_object", "json_schema"]
    schema: Mapping[str, Any] | None = None
    strict: bool = False

    @property
    def label(self) -> str:
        """What the ledger records: "json_object", "json_schema" or "strict_json_schema"."""
        return "strict_json_schema" if self.kind == "json_schema" and self.strict else self.kind

    @classmethod
    def from_openai(cls, value: Any) -> OutputFormat | None:
        """Chat's `response_format` or the Responses API's `text.format`: `{"type": "json_object"}`,
        or `{"type": "json_schema", ...}` with the schema nested under `json_schema` (chat) or not."""
        if not isinstance(value, dict):
            return None
        if value.get("type") == "json_object":
            return cls("json_object")
        if value.get("type") != "json_schema":
            return None  # "text"
        spec = value.get("json_schema") if isinstance(value.get("json_schema"), dict) else value
        schema = spec.get("schema")
        return cls("json_schema", schema if isinstance(schema, dict) else None, spec.get("strict") is True)


@dataclass(frozen=True)
class ToolChoice:
    """What the request allows: no tool, the model's pick, or a required tool (among `names`, if given)."""

    mode: Literal["none", "auto", "required"] = "auto"
    names: frozenset[str] | None = None


@dataclass(frozen=True)
class ChatRequest:
    """The parts of an LLM request that rules, the auto mode and the ledger look at.

    `api` says which endpoint it came to: "chat" (`/v1/chat/completions`), "responses"
    (`/v1/responses`), "anthropic" (`/v1/messages`) or "gemini"
    (`/v1beta/models/{model}:generateContent`); the answer is shaped for that endpoint.
    `tools` are the function tools offered (hosted tools left out), `tool_results` how many
    tool results the conversation holds: each protocol's parser reads them in its spelling.
    """

    body: dict[str, Any]
    model: str | None
    texts: tuple[str, ...]
    system_texts: tuple[str, ...]
    has_tools: bool
    stream: bool
    token: str | None
    fingerprint: str
    api: Api = "chat"
    tools: tuple[FunctionTool, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    tool_results: int = 0
    output: OutputFormat | None = None  # the structured output asked for, if any

    @classmethod
    def parse(cls, body: dict[str, Any], token_pattern: re.Pattern[str]) -> ChatRequest:
        messages = body.get("messages")
        messages = messages if isinstance(messages, list) else []
        tools = body.get("tools")
        texts = tuple(text for message in messages for text in message_texts(message))
        system_texts = tuple(
            text
            for message in messages
            if isinstance(message, dict) and message.get("role") in ("system", "developer")
            for text in message_texts(message)
        )
        model = body.get("model")
        found = find_token(texts, token_pattern)
        return cls(
            body=body,
            model=model if isinstance(model, str) else None,
            texts=texts,
            system_texts=system_texts,
            has_tools=bool(tools),
            stream=body.get("stream") is True,
            token=found,
            fingerprint=fingerprint(body),
            tools=function_tools(tools, nested=True),
            tool_choice=tool_choice(body.get("tool_choice")),
            tool_results=sum(1 for m in messages if isinstance(m, dict) and m.get("role") in ("tool", "function")),
            output=OutputFormat.from_openai(body.get("response_format")),
        )

    @cached_property
    def shape(self) -> str:
        """The request with its correlation token masked and its transport (streamed or not)
        left out: two requests that differ only in those get the same answer, the same ids in
        it, and so the same next request from the agent (runs of one agent compare as equal).

        Worked out once per request (a sorted JSON dump): the auto mode and `answer_id` both read it.
        The model is part of it even where the path names it (Gemini), not the body."""
        core = {k: v for k, v in self.body.items() if k not in ("stream", "stream_options")}
        if "model" not in core and self.model is not None:
            core["model"] = self.model
        body = json.dumps(core, sort_keys=True)
        return body.replace(self.token, "{token}") if self.token else body

    @cached_property
    def answer_id(self) -> str:
        """The ids in an answer (its tool calls' ``call_id`` included): derived from ``shape``,
        not from arrival order, because an agent sends them back in its next request."""
        return hashlib.sha256(self.shape.encode()).hexdigest()[:12]

    @property
    def wants_usage_chunk(self) -> bool:
        """Whether a streaming client asked for the trailing usage chunk."""
        options = self.body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True

    @property
    def prompt_tokens(self) -> int:
        return estimate_tokens("".join(self.texts))


def message_texts(message: Any) -> list[str]:
    """The texts of one message: its content (plain or as text parts) and any tool-call arguments."""
    if not isinstance(message, dict):
        return []
    texts: list[str] = []
    content = message.get("content")
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            texts.append(function["arguments"])
    return texts


def function_tools(tools: Any, *, nested: bool) -> tuple[FunctionTool, ...]:
    """The OpenAI function tools offered, in order: chat nests each under `function`
    (`nested`), the Responses API does not. Hosted and custom tools are left out."""
    found = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict) or tool.get("type") != "function":
            continue
        spec = tool.get("function") if nested else tool
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            parameters = spec.get("parameters")
            schema = parameters if isinstance(parameters, dict) else NO_PARAMETERS
            found.append(FunctionTool(spec["name"], schema, spec.get("strict") is True))
    return tuple(found)


def tool_choice(value: Any) -> ToolChoice:
    """OpenAI's `tool_choice`, in either API's spelling."""
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


def _tool_name(tool: Any) -> str | None:
    if not isinstance(tool, dict):
        return None
    function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
    name = function.get("name")
    return name if isinstance(name, str) else None


def find_token(texts: tuple[str, ...], token_pattern: re.Pattern[str]) -> str | None:
    """The first correlation token in the texts, in order."""
    return next((m.group(0) for text in texts if (m := token_pattern.search(text))), None)


def fingerprint(body: dict[str, Any]) -> str:
    """First 16 hex chars of sha256 over the canonical JSON of model, messages and tools.

    Identical requests get identical fingerprints, so retries of one logical call group together.
    """
    return digest({"model": body.get("model"), "messages": body.get("messages"), "tools": body.get("tools")})


def digest(core: dict[str, Any]) -> str:
    """First 16 hex chars of sha256 over the canonical JSON of `core`."""
    canonical = json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters a token), good enough for a plausible `usage`."""
    return (len(text) + 3) // 4

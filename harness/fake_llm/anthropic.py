"""Anthropic Messages (`POST /v1/messages`): reading a request into the fake's view of it,
and the wire shapes of the answer, whole or streamed, and of an error.

Only what clients such as the `anthropic` SDK or the Vercel AI SDK's Anthropic provider
need: one `text` or one `tool_use` content block, `stop_reason`, usage; streamed, the
events from `message_start` to `message_stop`. Streaming is derived from the whole body,
so both forms of one answer always agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from harness.fake_llm.chat import (
    DEFAULT_MODEL,
    NO_PARAMETERS,
    ChatRequest,
    FunctionTool,
    OutputFormat,
    ToolChoice,
    digest,
    estimate_tokens,
    find_token,
)
from harness.fake_llm.completions import pieces
from harness.fake_llm.rules import Reply, ToolCall

# Anthropic's error types by status (https://docs.anthropic.com/en/api/errors).
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# How the model stopped (`Reply.finish`), in Anthropic's words; "stop" is end_turn or tool_use.
_STOP_REASONS: dict[str, str | None] = {"length": "max_tokens", "refusal": "refusal", "none": None}
_CHOICES = {"auto": ToolChoice("auto"), "any": ToolChoice("required"), "none": ToolChoice("none")}

# --- the request ---------------------------------------------------------------------------


def parse_request(body: dict[str, Any], token_pattern: re.Pattern[str]) -> ChatRequest:
    """A Messages request as rules, the auto mode and the ledger see it.

    Texts are `system` (a string or text blocks: the system texts), then each message's
    text blocks, `tool_use` inputs (as JSON) and `tool_result` contents; each
    `tool_result` block is a tool result.
    """
    system = _block_texts(body.get("system"))
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []
    blocks = [block for message in messages if isinstance(message, dict) for block in _blocks(message.get("content"))]
    texts = system + [text for block in blocks for text in _texts_of(block)]
    model = body.get("model")
    return ChatRequest(
        body=body,
        model=model if isinstance(model, str) else None,
        texts=tuple(texts),
        system_texts=tuple(system),
        has_tools=bool(body.get("tools")),
        stream=body.get("stream") is True,
        token=find_token(tuple(texts), token_pattern),
        fingerprint=digest({key: body.get(key) for key in ("model", "system", "messages", "tools")}),
        api="anthropic",
        tools=_function_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice")),
        tool_results=sum(1 for block in blocks if block.get("type") == "tool_result"),
        output=_output_format(body),
    )


def _blocks(content: Any) -> list[dict[str, Any]]:
    """A message's content blocks; a plain string is one text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content if isinstance(block, dict)] if isinstance(content, list) else []


def _block_texts(content: Any) -> list[str]:
    return [block["text"] for block in _blocks(content) if isinstance(block.get("text"), str)]


def _texts_of(block: dict[str, Any]) -> list[str]:
    if block.get("type") == "tool_use":
        return [json.dumps(block.get("input"), ensure_ascii=False)]
    if block.get("type") == "tool_result":
        return _block_texts(block.get("content"))
    return [block["text"]] if isinstance(block.get("text"), str) else []


def _function_tools(tools: Any) -> tuple[FunctionTool, ...]:
    """The tools the client defines (`name` and `input_schema`); Anthropic's own (web search,
    bash, ...) have a versioned `type` and no schema, and are left out."""
    found = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type") in (None, "custom") and isinstance(tool.get("name"), str):
            schema = tool.get("input_schema")
            schema = schema if isinstance(schema, dict) else NO_PARAMETERS
            found.append(FunctionTool(tool["name"], schema, tool.get("strict") is True))
    return tuple(found)


def _output_format(body: dict[str, Any]) -> OutputFormat | None:
    """Structured outputs: `output_config.format` (or the beta's `output_format`),
    `{"type": "json_schema", "schema": ...}`. Anthropic decodes to the schema: strict."""
    config = body.get("output_config")
    spec = config.get("format") if isinstance(config, dict) else body.get("output_format")
    if not isinstance(spec, dict) or spec.get("type") != "json_schema":
        return None
    schema = spec.get("schema")
    return OutputFormat("json_schema", schema if isinstance(schema, dict) else None, strict=True)


def _tool_choice(value: Any) -> ToolChoice:
    """`{"type": "auto" | "any" | "none"}`, or `{"type": "tool", "name": ...}`: that tool."""
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "tool":
        name = value.get("name")
        return ToolChoice("required", frozenset([name])) if isinstance(name, str) else ToolChoice("required")
    return _CHOICES.get(kind, ToolChoice())


# --- the answer ------------------------------------------------------------------------------


def message_body(request: ChatRequest, answer_id: str, action: Reply | ToolCall) -> dict[str, Any]:
    """The `message` object answering `request` with `action`."""
    block: dict[str, Any]
    stop_reason: str | None
    if isinstance(action, Reply):
        block = {"type": "text", "text": action.content}
        stop_reason, completion_text = _STOP_REASONS.get(action.finish, "end_turn"), action.content
    else:
        # Arguments given as a string (invalid JSON) go out as a string: `input` is no object then.
        arguments = action.arguments if isinstance(action.arguments, str) else dict(action.arguments)
        block = {"type": "tool_use", "id": f"toolu_{answer_id}", "name": action.name, "input": arguments}
        stop_reason = _STOP_REASONS.get(action.finish, "tool_use")
        completion_text = action.name + json.dumps(arguments)
    return {
        "id": f"msg_fake_{answer_id}",
        "type": "message",
        "role": "assistant",
        "model": request.model or DEFAULT_MODEL,
        "content": [block],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": request.prompt_tokens, "output_tokens": estimate_tokens(completion_text)},
    }


def ledger_usage(body: dict[str, Any]) -> dict[str, int]:
    """The usage the ledger records: Anthropic's, with the total the checker reads."""
    usage = body["usage"]
    return usage | {"total_tokens": usage["input_tokens"] + usage["output_tokens"]}


def events(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The stream events of `body`, as Anthropic sends them: `message_start` (the message,
    empty), the one content block (started, its text or input JSON in deltas, stopped),
    `message_delta` with the stop reason and usage, and `message_stop`."""
    block = body["content"][0]
    usage = body["usage"]
    yield {"type": "message_start",
           "message": body | {"content": [], "stop_reason": None, "usage": usage | {"output_tokens": 1}}}
    if block["type"] == "tool_use":
        yield {"type": "content_block_start", "index": 0, "content_block": block | {"input": {}}}
        arguments = block["input"] if isinstance(block["input"], str) else json.dumps(block["input"])
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces(arguments)]
    else:
        yield {"type": "content_block_start", "index": 0, "content_block": block | {"text": ""}}
        deltas = [{"type": "text_delta", "text": p} for p in pieces(block["text"])]
    for delta in deltas:
        yield {"type": "content_block_delta", "index": 0, "delta": delta}
    yield {"type": "content_block_stop", "index": 0}
    yield {"type": "message_delta", "delta": {"stop_reason": body["stop_reason"], "stop_sequence": None},
           "usage": usage}
    yield {"type": "message_stop"}


def unfinished(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of `body` as they come when the stream ends early: the block's deltas, then nothing
    (no `content_block_stop`, `message_delta` or `message_stop`), and no error."""
    kept = []
    for event in events(body):
        if event["type"] == "content_block_stop":
            break
        kept.append(event)
    return kept


# How Anthropic words the errors a request can meet whatever its transport (`Failure.code`).
_MESSAGES = {
    "context_length_exceeded": "prompt is too long: 212345 tokens > 200000 maximum",
    "invalid_api_key": "invalid x-api-key",
}


def error_body(status: int, message: str | None, code: str | None = None) -> dict[str, Any]:
    """An Anthropic error body: 429 `rate_limit_error`, 529 `overloaded_error`, other 5xx `api_error`."""
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    text = message or _MESSAGES.get(code or "") or f"fake LLM: scripted {status} error"
    return {"type": "error", "error": {"type": kind, "message": text}}

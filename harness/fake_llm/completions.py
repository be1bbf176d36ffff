"""OpenAI chat-completions wire shapes: the completion body, its streamed chunks, error bodies.

Streaming is derived from the non-streamed body, so both forms of one answer always agree.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

from harness.fake_llm.chat import DEFAULT_MODEL, ChatRequest, estimate_tokens
from harness.fake_llm.rules import Reply, ToolCall

# Cut off mid-object: a 200 whose body no JSON parser accepts.
MALFORMED_BODY = b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"index": 0, "mess'

_FINISH_REASONS: dict[str, str | None] = {"stop": "stop", "length": "length", "refusal": "content_filter", "none": None}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def completion(request: ChatRequest, answer_id: str, action: Reply | ToolCall) -> dict[str, Any]:
    """The `chat.completion` body answering `request` with `action`.

    A refusal is OpenAI's `refusal` field where the request asked for structured output,
    else `finish_reason: content_filter` with no content; "none" is no finish reason."""
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    finish_reason: str | None
    if isinstance(action, Reply):
        if action.finish == "refusal" and request.output is not None:
            message["refusal"], finish_reason = action.content, "stop"
        elif action.finish == "refusal":
            finish_reason = "content_filter"
        else:
            message["content"], finish_reason = action.content, _FINISH_REASONS[action.finish]
        completion_text = action.content
    else:
        arguments = tool_arguments(action)
        message["tool_calls"] = [
            {
                "id": f"call_{answer_id}",
                "type": "function",
                "function": {"name": action.name, "arguments": arguments},
            }
        ]
        finish_reason = "tool_calls" if action.finish == "stop" else _FINISH_REASONS[action.finish]
        completion_text = action.name + arguments
    prompt_tokens = request.prompt_tokens
    completion_tokens = estimate_tokens(completion_text)
    return {
        "id": f"chatcmpl-fake-{answer_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model or DEFAULT_MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def tool_arguments(action: ToolCall) -> str:
    """A tool call's arguments as the JSON text on the wire (a string is sent as it is: invalid, maybe)."""
    return action.arguments if isinstance(action.arguments, str) else json.dumps(dict(action.arguments))


def chunks(body: dict[str, Any], *, include_usage: bool) -> Iterator[dict[str, Any]]:
    """The `chat.completion.chunk` objects that stream `body` the way OpenAI does.

    A role chunk, the content (or tool-call arguments) in a few pieces, a chunk carrying
    `finish_reason`, and, if the client asked for it, a final usage chunk with no choices.
    """
    choice = body["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": body["id"],
            "object": "chat.completion.chunk",
            "created": body["created"],
            "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }

    tool_calls = message.get("tool_calls")
    if tool_calls:
        call = tool_calls[0]
        opening = {"index": 0, "id": call["id"], "type": "function"}
        yield chunk({"role": "assistant", "content": None,
                     "tool_calls": [opening | {"function": {"name": call["function"]["name"], "arguments": ""}}]})
        for piece in pieces(call["function"]["arguments"]):
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    else:
        yield chunk({"role": "assistant", "content": ""})
        for piece in pieces(message["content"] or ""):
            yield chunk({"content": piece})
        for piece in pieces(message.get("refusal") or ""):
            yield chunk({"refusal": piece})
    yield chunk({}, choice["finish_reason"])
    if include_usage:
        yield chunk({}) | {"choices": [], "usage": body["usage"]}


def unfinished(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunks of `body` as they come when the stream ends early: up to the last
    content, then nothing (no finish reason, no usage, no `[DONE]`), and no error."""
    return list(chunks(body, include_usage=False))[:-1]


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event line pair."""
    text = data if isinstance(data, str) else json.dumps(data)
    return f"data: {text}\n\n".encode()


def pieces(text: str, count: int = 3) -> list[str]:
    """Split text at word starts into at most `count` pieces that join back to `text`."""
    words = [word for word in re.split(r"(?<=\s)(?=\S)", text) if word]
    if not words:
        return []
    size = -(-len(words) // count)  # ceiling division
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


# How OpenAI words the errors a request can meet whatever its transport (`Failure.code`).
_MESSAGES = {
    "context_length_exceeded": "This model's maximum context length is 128000 tokens. However, your messages "
                               "resulted in 131072 tokens. Please reduce the length of the messages.",
    "invalid_api_key": "Incorrect API key provided: sk-fake. You can find your API key at "
                       "https://platform.openai.com/account/api-keys.",
}


def error_body(status: int, message: str | None, code: str | None = None) -> dict[str, Any]:
    """An OpenAI-style error body; `code` (e.g. "context_length_exceeded") is OpenAI's error code."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    if code == "invalid_api_key":
        kind = "invalid_request_error"  # what OpenAI sends with a 401 for a wrong key
    return {
        "error": {
            "message": message or _MESSAGES.get(code or "") or f"fake LLM: scripted {status} error",
            "type": kind,
            "param": "messages" if code == "context_length_exceeded" else None,
            "code": code or (kind if status == 429 else None),
        }
    }

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

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def completion(request: ChatRequest, answer_id: str, action: Reply | ToolCall) -> dict[str, Any]:
    """The `chat.completion` body answering `request` with `action`."""
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if isinstance(action, Reply):
        message["content"] = action.content
        finish_reason, completion_text = "stop", action.content
    else:
        arguments = json.dumps(dict(action.arguments))
        message["tool_calls"] = [
            {
                "id": f"call_{answer_id}",
                "type": "function",
                "function": {"name": action.name, "arguments": arguments},
            }
        ]
        finish_reason, completion_text = "tool_calls", action.name + arguments
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
    yield chunk({}, choice["finish_reason"])
    if include_usage:
        yield chunk({}) | {"choices": [], "usage": body["usage"]}


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


def error_body(status: int, message: str | None) -> dict[str, Any]:
    """An OpenAI-style error body."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {
        "error": {
            "message": message or f"fake LLM: scripted {status} error",
            "type": kind,
            "param": None,
            "code": kind if status == 429 else None,
        }
    }

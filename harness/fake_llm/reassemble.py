"""Rebuilding the whole answer from a stream the fake passed through from its upstream.

The ledger keeps a streamed scripted call's answer as the whole (non-streamed) body, so a
forwarded stream is recorded the same way: chat-completion chunks are folded into one
`chat.completion` (text, tool calls, finish reason, usage); a Responses stream's last
`response.completed` (or `.incomplete`, `.failed`) event already carries the whole response.
Anything less regular than that is not guessed at: the body is then None.
"""

from __future__ import annotations

import json
from typing import Any

from harness.fake_llm.chat import Api

_FINAL_RESPONSE_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def streamed_body(api: Api, content: bytes) -> dict[str, Any] | None:
    """The whole answer a server-sent-event stream carried, or None if it is not a stream we can read."""
    events = sse_data(content)
    if not events:
        return None
    if api == "responses":
        finals = [e["response"] for e in events if e.get("type") in _FINAL_RESPONSE_EVENTS]
        return finals[-1] if finals and isinstance(finals[-1], dict) else None
    return chat_completion(events)


def usage_of(body: Any) -> dict[str, Any] | None:
    usage = body.get("usage") if isinstance(body, dict) else None
    return usage if isinstance(usage, dict) else None


def sse_data(content: bytes) -> list[dict[str, Any]] | None:
    """The JSON objects in the `data:` fields of an event stream (`[DONE]` skipped); None if one is not JSON."""
    found: list[dict[str, Any]] = []
    for event in content.decode("utf-8", "replace").replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].removeprefix(" ") for line in event.split("\n") if line.startswith("data:"))
        if not data or data == "[DONE]":
            continue
        try:
            value = json.loads(data)
        except ValueError:
            return None
        if isinstance(value, dict):
            found.append(value)
    return found


def chat_completion(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold `chat.completion.chunk` objects into the `chat.completion` they stream."""
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in chunks:
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            index = choice.get("index", 0)
            whole = choices.setdefault(
                index, {"index": index, "message": {"role": "assistant", "content": None}, "finish_reason": None}
            )
            _add_delta(whole["message"], choice.get("delta") or {})
            whole["finish_reason"] = choice.get("finish_reason") or whole["finish_reason"]
    first = chunks[0]
    return {
        "id": first.get("id"),
        "object": "chat.completion",
        "created": first.get("created"),
        "model": first.get("model"),
        "choices": [choices[index] for index in sorted(choices)],
        "usage": usage,
    }


def _add_delta(message: dict[str, Any], delta: dict[str, Any]) -> None:
    if isinstance(delta.get("content"), str):
        message["content"] = (message["content"] or "") + delta["content"]
    for fragment in delta.get("tool_calls") or []:
        calls: list[dict[str, Any]] = message.setdefault("tool_calls", [])
        index = fragment.get("index", 0)
        while len(calls) <= index:
            calls.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        call = calls[index]
        call["id"] = fragment.get("id") or call["id"]
        function = fragment.get("function") or {}
        call["function"]["name"] += function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""

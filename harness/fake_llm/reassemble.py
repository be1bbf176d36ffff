"""Rebuilding the whole answer from a stream the fake passed through from its upstream.

The ledger keeps a streamed scripted call's answer as the whole (non-streamed) body, so a
forwarded stream is recorded the same way: chat-completion chunks are folded into one
`chat.completion` (text, tool calls, finish reason, usage); a Responses stream's last
`response.completed` (or `.incomplete`, `.failed`) event already carries the whole response;
Anthropic's events fold into its message, Gemini's chunks into one response.
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
    if api == "anthropic":
        return anthropic_message(events)
    if api == "gemini":
        return gemini_response(events)
    return chat_completion(events)


def usage_of(body: Any) -> dict[str, Any] | None:
    """The answer's usage as the ledger keeps it: OpenAI's; Anthropic's and Gemini's as
    input_tokens, output_tokens and the total_tokens the checker reads."""
    if not isinstance(body, dict):
        return None
    gemini = body.get("usageMetadata")
    if isinstance(gemini, dict):
        counts = (gemini.get("promptTokenCount", 0), gemini.get("candidatesTokenCount", 0))
        return {"input_tokens": counts[0], "output_tokens": counts[1],
                "total_tokens": gemini.get("totalTokenCount", sum(counts))}
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return None
    if "total_tokens" not in usage and isinstance(usage.get("input_tokens"), int):
        return usage | {"total_tokens": usage["input_tokens"] + int(usage.get("output_tokens") or 0)}
    return usage


def anthropic_message(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Fold Anthropic's stream (`message_start`, content blocks in deltas, `message_delta`) into its message."""
    starts = [e["message"] for e in events if e.get("type") == "message_start" and isinstance(e.get("message"), dict)]
    if not starts:
        return None
    message = dict(starts[0]) | {"content": []}
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for event in events:
        index = event.get("index", 0)
        if event.get("type") == "content_block_start":
            blocks[index] = dict(event.get("content_block") or {})
        elif event.get("type") == "content_block_delta" and index in blocks:
            delta = event.get("delta") or {}
            if delta.get("type") == "input_json_delta":
                partial[index] = partial.get(index, "") + str(delta.get("partial_json") or "")
            for key in ("text", "thinking", "signature"):
                if isinstance(delta.get(key), str):
                    blocks[index][key] = str(blocks[index].get(key) or "") + delta[key]
        elif event.get("type") == "message_delta":
            message.update(event.get("delta") or {})
            message["usage"] = (message.get("usage") or {}) | (event.get("usage") or {})
    for index, text in partial.items():
        try:
            blocks[index]["input"] = json.loads(text) if text else {}
        except ValueError:
            blocks[index]["input"] = text
    message["content"] = [blocks[index] for index in sorted(blocks)]
    return message


def gemini_response(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold Gemini's streamed responses into one: the parts in order (text pieces joined), the last
    finish reason, usage and ids."""
    parts: list[dict[str, Any]] = []
    whole: dict[str, Any] = {}
    candidate: dict[str, Any] = {"index": 0}
    for chunk in chunks:
        whole.update({key: value for key, value in chunk.items() if key != "candidates"})
        for streamed in chunk.get("candidates") or []:
            candidate.update({key: value for key, value in streamed.items() if key != "content"})
            for part in (streamed.get("content") or {}).get("parts") or []:
                if set(part) == {"text"} and parts and set(parts[-1]) == {"text"}:
                    parts[-1] = {"text": parts[-1]["text"] + part["text"]}
                else:
                    parts.append(dict(part))
    candidate["content"] = {"role": "model", "parts": parts}
    return whole | {"candidates": [candidate]}


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

"""The OpenAI Responses API (`POST /v1/responses`): reading a request into the same view
as a chat-completions request, and the wire shapes of the answer, whole or streamed.

Only what a client such as the Vercel AI SDK's OpenAI provider or the `openai` SDK
needs: text in one `message` output item, or one `function_call` output item; usage;
and, streamed, the events from `response.created` to `response.completed`. Streaming is
derived from the whole body, so both forms of one answer always agree.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

from harness.fake_llm.chat import (
    DEFAULT_MODEL,
    ChatRequest,
    OutputFormat,
    digest,
    estimate_tokens,
    find_token,
    function_tools,
    tool_choice,
)
from harness.fake_llm.completions import pieces, tool_arguments
from harness.fake_llm.rules import Reply, ToolCall

# --- the request ---------------------------------------------------------------------------


def parse_request(body: dict[str, Any], token_pattern: re.Pattern[str]) -> ChatRequest:
    """A Responses request as rules and the ledger see it.

    Texts are `instructions` (a system text), then each `input` item's text parts, tool-call
    arguments and tool outputs; a plain-string `input` is one user message. Items with role
    system or developer are system texts; `*_call_output` items are tool results.
    """
    instructions = body.get("instructions")
    items = _input_items(body.get("input"))
    texts: list[str] = []
    system_texts: list[str] = []
    if isinstance(instructions, str):
        texts.append(instructions)
        system_texts.append(instructions)
    for item in items:
        found = item_texts(item)
        texts.extend(found)
        if isinstance(item, dict) and item.get("role") in ("system", "developer"):
            system_texts.extend(found)
    model = body.get("model")
    return ChatRequest(
        body=body,
        model=model if isinstance(model, str) else None,
        texts=tuple(texts),
        system_texts=tuple(system_texts),
        has_tools=bool(body.get("tools")),
        stream=body.get("stream") is True,
        token=find_token(tuple(texts), token_pattern),
        fingerprint=fingerprint(body),
        api="responses",
        tools=function_tools(body.get("tools"), nested=False),
        tool_choice=tool_choice(body.get("tool_choice")),
        tool_results=sum(
            1 for item in items if isinstance(item, dict) and str(item.get("type", "")).endswith("_call_output")
        ),
        output=OutputFormat.from_openai(body["text"].get("format") if isinstance(body.get("text"), dict) else None),
    )


def _input_items(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return value if isinstance(value, list) else []


def item_texts(item: Any) -> list[str]:
    """The texts of one input item: message content (plain or parts), function-call arguments, tool output."""
    if not isinstance(item, dict):
        return []
    texts: list[str] = []
    for key in ("content", "output"):  # a message's content; a function_call_output's output
        value = item.get(key)
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            texts.extend(part["text"] for part in value if isinstance(part, dict) and isinstance(part.get("text"), str))
    if item.get("type") == "function_call" and isinstance(item.get("arguments"), str):
        texts.append(item["arguments"])
    return texts


def fingerprint(body: dict[str, Any]) -> str:
    """Like chat completions' fingerprint, over model, instructions, input and tools."""
    return digest(
        {
            "model": body.get("model"),
            "instructions": body.get("instructions"),
            "input": body.get("input"),
            "tools": body.get("tools"),
        }
    )


# --- the answer ------------------------------------------------------------------------------


def response_body(request: ChatRequest, answer_id: str, action: Reply | ToolCall) -> dict[str, Any]:
    """The `response` object answering `request` with `action`."""
    item: dict[str, Any]
    if isinstance(action, Reply):
        part = ({"type": "refusal", "refusal": action.content} if action.finish == "refusal"
                else {"type": "output_text", "text": action.content, "annotations": [], "logprobs": []})
        item = {
            "type": "message",
            "id": f"msg_fake_{answer_id}",
            "status": "completed" if action.finish in ("stop", "refusal") else "incomplete",
            "role": "assistant",
            "content": [part],
        }
        completion_text = action.content
    else:
        arguments = tool_arguments(action)
        item = {
            "type": "function_call",
            "id": f"fc_fake_{answer_id}",
            "call_id": f"call_{answer_id}",
            "name": action.name,
            "arguments": arguments,
            "status": "completed" if action.finish == "stop" else "incomplete",
        }
        completion_text = action.name + arguments
    input_tokens = request.prompt_tokens
    output_tokens = estimate_tokens(completion_text)
    body = request.body
    return {
        "id": f"resp_fake_{answer_id}",
        "object": "response",
        "created_at": int(time.time()),
        # A cut answer is "incomplete", for the token limit (`max_output_tokens`) or for no reason given.
        "status": "completed" if action.finish in ("stop", "refusal") else "incomplete",
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if action.finish == "length" else None,
        "instructions": body.get("instructions"),
        "model": request.model or DEFAULT_MODEL,
        "output": [item],
        "parallel_tool_calls": True,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        },
    }


def events(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The stream events of `body`, as OpenAI sends them, each with its `sequence_number`.

    `response.created` and `response.in_progress`; the output item added; its text deltas
    (inside a content part) or function-call argument deltas; the item done; and last
    `response.completed` carrying the whole response.
    """
    in_progress = body | {"status": "in_progress", "output": [], "usage": None}
    item = body["output"][0]
    item_id = item["id"]
    located = {"item_id": item_id, "output_index": 0}

    def stream() -> Iterator[dict[str, Any]]:
        yield {"type": "response.created", "response": in_progress}
        yield {"type": "response.in_progress", "response": in_progress}
        if item["type"] == "function_call":
            yield {"type": "response.output_item.added", "output_index": 0,
                   "item": item | {"arguments": "", "status": "in_progress"}}
            for piece in pieces(item["arguments"]):
                yield {"type": "response.function_call_arguments.delta", **located, "delta": piece}
            yield {"type": "response.function_call_arguments.done", **located, "arguments": item["arguments"]}
        elif item["content"][0]["type"] == "refusal":
            part = item["content"][0]
            yield {"type": "response.output_item.added", "output_index": 0,
                   "item": item | {"status": "in_progress", "content": []}}
            yield {"type": "response.content_part.added", **located, "content_index": 0,
                   "part": part | {"refusal": ""}}
            for piece in pieces(part["refusal"]):
                yield {"type": "response.refusal.delta", **located, "content_index": 0, "delta": piece}
            yield {"type": "response.refusal.done", **located, "content_index": 0, "refusal": part["refusal"]}
            yield {"type": "response.content_part.done", **located, "content_index": 0, "part": part}
        else:
            part = item["content"][0]
            yield {"type": "response.output_item.added", "output_index": 0,
                   "item": item | {"status": "in_progress", "content": []}}
            yield {"type": "response.content_part.added", **located, "content_index": 0,
                   "part": part | {"text": ""}}
            for piece in pieces(part["text"]):
                yield {"type": "response.output_text.delta", **located, "content_index": 0, "delta": piece,
                       "logprobs": []}
            yield {"type": "response.output_text.done", **located, "content_index": 0, "text": part["text"],
                   "logprobs": []}
            yield {"type": "response.content_part.done", **located, "content_index": 0, "part": part}
        yield {"type": "response.output_item.done", "output_index": 0, "item": item}
        # An answer cut at the token limit ends the stream with `response.incomplete`.
        yield {"type": "response.completed" if body["status"] == "completed" else "response.incomplete",
               "response": body}

    for number, event in enumerate(stream()):
        yield event | {"sequence_number": number}


def unfinished(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of `body` as they come when the stream ends early: its deltas, then
    nothing (no `.done` event, no `response.completed`), and no error."""
    kept = []
    for event in events(body):
        if event["type"].endswith(".done"):
            break
        kept.append(event)
    return kept


def sse_event(event: dict[str, Any]) -> bytes:
    """One server-sent event with its `event:` name, as the Responses API sends it."""
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

"""A read-only view of one OpenAI chat-completions request.

Everything the fake needs to know about a request (its texts, its correlation token,
its fingerprint, a token-count estimate) is worked out once, here, so that rule
matching and the ledger agree on what the request said. A Responses API request is
parsed into the same view by `harness.fake_llm.responses.parse_request` (`api="responses"`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

Api = Literal["chat", "responses"]

DEFAULT_TOKEN_PATTERN = r"rrh-[0-9a-f]{12}"
DEFAULT_MODEL = "fake-model"


@dataclass(frozen=True)
class ChatRequest:
    """The parts of an LLM request body that rules and the ledger look at.

    `api` says which endpoint it came to: "chat" (`/v1/chat/completions`) or
    "responses" (`/v1/responses`); the answer is shaped for that endpoint.
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

    @classmethod
    def parse(cls, body: dict[str, Any], token_pattern: re.Pattern[str]) -> ChatRequest:
        messages = body.get("messages")
        messages = messages if isinstance(messages, list) else []
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
            has_tools=bool(body.get("tools")),
            stream=body.get("stream") is True,
            token=found,
            fingerprint=fingerprint(body),
        )

    @cached_property
    def shape(self) -> str:
        """The request with its correlation token masked and its transport (streamed or not)
        left out: two requests that differ only in those get the same answer, the same ids in
        it, and so the same next request from the agent (runs of one agent compare as equal).

        Worked out once per request (a sorted JSON dump): the auto mode and `answer_id` both read it."""
        body = json.dumps({k: v for k, v in self.body.items() if k not in ("stream", "stream_options")}, sort_keys=True)
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

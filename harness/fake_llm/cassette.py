"""Cassettes: a real provider's answers, recorded once and replayed deterministically (as
VCR.py and pytest-recording do for HTTP).

- Recording (`python -m harness.fake_llm --record FILE`): what the auto mode would answer
  goes to the real provider instead (`harness.fake_llm.forward`), and every exchange is
  appended to FILE as one JSON line. Keys never reach it: the headers that carry them
  (`Authorization`, `x-api-key`, `x-goog-api-key`) and a `key=` query parameter are
  redacted, and so is the key wherever the provider echoed it.
- Replaying (`--cassette FILE`): a request is answered with the recorded answer whose
  request matches it once normalised (`match_key`: the correlation token and every id
  masked, streamed or not kept apart), the current request's token put in place of the
  recorded one, so correlation still works. A request asked again gets the same (first
  recorded) answer, so crash points and retries replay exactly. What no exchange matches
  is a miss: the auto mode answers it, or (`--on-miss fail`) an error does.

A stream is recorded as the server-sent events the provider sent, and replayed as those
events: the fake's own streamers shape one content block, where a real answer may hold
several (text and a tool call, reasoning, parallel tool calls), and the events as sent
also keep every field and event name a client may read.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.fake_llm.chat import Api, ChatRequest
from harness.redact import REDACTED

# Headers that carry a provider key: never written, whatever their value.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie"})
# Request headers worth keeping in a cassette: they change what the provider answers.
RECORDED_REQUEST_HEADERS = frozenset({"anthropic-version", "anthropic-beta", "openai-beta"})
# Response headers a replay sends again: the body's type, and what clients act on.
REPLAYED_RESPONSE_HEADERS = ("content-type", "retry-after", "x-request-id", "request-id")
_API_NAMES: tuple[Api, ...] = ("chat", "responses", "anthropic", "gemini")
# Fields of stream events that carry the answer's text in pieces (a token may be split between two).
_TEXT_FIELDS = frozenset({"content", "text", "partial_json", "arguments", "delta"})
# The request's transport, not its content: a replay answers in the transport asked for (`Exchange.stream`).
_TRANSPORT_FIELDS = ("stream", "stream_options")
_KEY_QUERY = re.compile(r"(^|&)(key=)[^&]*")
_EVENT = re.compile(r".*?(?:\r\n\r\n|\n\n)|.+\Z", re.DOTALL)


class CassetteError(ValueError):
    """A cassette that cannot be used: the file, the line and what is wrong with it."""


@dataclass(frozen=True)
class Exchange:
    """One recorded LLM call: the request as the agent sent it (secrets redacted) and the
    provider's answer, whole (`body`) or streamed (`events`, as sent)."""

    api: Api
    path: str
    model: str | None
    stream: bool
    token: str | None  # the correlation token of the recorded request, put back as the current one on replay
    request: dict[str, Any]
    status: int
    headers: dict[str, str]
    body: Any = None
    events: tuple[str, ...] | None = None
    query: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "api": self.api, "path": self.path, "query": self.query, "model": self.model, "stream": self.stream,
            "token": self.token, "request_headers": self.request_headers, "request": self.request,
            "status": self.status, "headers": self.headers, "body": self.body,
            "events": None if self.events is None else list(self.events), "recorded_at": round(time.time(), 3),
        }

    @classmethod
    def from_json(cls, data: Any) -> Exchange:
        """Raises ValueError saying which field is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"an exchange is a JSON object, not {type(data).__name__}")
        api, events = data.get("api"), data.get("events")
        checks = {
            "api": api in _API_NAMES,
            "path": isinstance(data.get("path"), str),
            "request": isinstance(data.get("request"), dict),
            "status": isinstance(data.get("status"), int),
            "stream": isinstance(data.get("stream"), bool),
            "headers": isinstance(data.get("headers", {}), dict),
            "events": events is None or (isinstance(events, list) and all(isinstance(e, str) for e in events)),
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise ValueError(f"missing or invalid field {', '.join(wrong)}")
        token, model = data.get("token"), data.get("model")
        return cls(
            api=api, path=data["path"], model=model if isinstance(model, str) else None, stream=data["stream"],
            token=token if isinstance(token, str) else None, request=data["request"], status=data["status"],
            headers={str(k): str(v) for k, v in data.get("headers", {}).items()}, body=data.get("body"),
            events=None if events is None else tuple(events), query=str(data.get("query") or ""),
            request_headers={str(k): str(v) for k, v in (data.get("request_headers") or {}).items()},
        )


# --- matching ------------------------------------------------------------------------------


def match_key(api: str, model: str | None, stream: bool, body: Mapping[str, Any], token_pattern: re.Pattern[str]) -> str:
    """What a request is matched on: protocol, model, transport, and the body without its
    transport fields, with the correlation token and every id masked (`masked`)."""
    core = {key: value for key, value in body.items() if key not in _TRANSPORT_FIELDS}
    return json.dumps([api, model, stream, masked(core, token_pattern)], sort_keys=True, ensure_ascii=False)


def masked(value: Any, token_pattern: re.Pattern[str]) -> Any:
    """`value` with the correlation token as "{token}" in every string, and the value of every
    id field ("id", "tool_call_id", "call_id", "previous_response_id", "responseId", ...) as
    "{id}": ids differ from run to run where a client makes them up, and say nothing of the question."""
    if isinstance(value, str):
        return token_pattern.sub("{token}", value)
    if isinstance(value, list):
        return [masked(item, token_pattern) for item in value]
    if isinstance(value, dict):
        return {key: "{id}" if _is_id(key) and isinstance(item, str | int) else masked(item, token_pattern)
                for key, item in value.items()}
    return value


def _is_id(key: str) -> bool:
    return key == "id" or key.endswith(("_id", "Id"))


class Cassette:
    """A cassette being replayed: for each match key, one answer, given every time it is asked:
    the first recorded that succeeded (a 429 the client retried past is not what it ended
    with), else the first recorded."""

    def __init__(self, path: Path, exchanges: Sequence[Exchange], token_pattern: re.Pattern[str]) -> None:
        self.path = path
        self.exchanges = list(exchanges)
        self.token_pattern = token_pattern
        self._by_key: dict[str, Exchange] = {}
        for exchange in self.exchanges:
            key = match_key(exchange.api, exchange.model, exchange.stream, exchange.request, token_pattern)
            kept = self._by_key.get(key)
            if kept is None or (kept.status >= 400 and exchange.status < 400):
                self._by_key[key] = exchange

    def find(self, chat: ChatRequest) -> Exchange | None:
        return self._by_key.get(match_key(chat.api, chat.model, chat.stream, chat.body, self.token_pattern))


def load(path: str | Path, token_pattern: re.Pattern[str]) -> Cassette:
    """Read a cassette; a missing file, a line that is not an exchange or a file with none
    raises CassetteError naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CassetteError(f"cassette {path}: no such file (record one with --record {path})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"cassette {path}: cannot read it: {exc}") from None
    exchanges = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            exchanges.append(Exchange.from_json(json.loads(line)))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise CassetteError(f"cassette {path}, line {number}: not a recorded exchange: {exc}") from None
    if not exchanges:
        raise CassetteError(f"cassette {path}: it holds no exchange (record one with --record {path})")
    return Cassette(path, exchanges, token_pattern)


# --- recording -----------------------------------------------------------------------------


class Recording:
    """A cassette being written: one JSON line per exchange, appended as each answer completes.

    Each line goes out in one `write` on a file opened for appending, so the fake's
    concurrent answers (and several fakes recording to one file) never interleave a line.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(b"")  # a new recording replaces the old one, as pytest-recording's rewrite mode

    def add(self, exchange: Exchange) -> None:
        line = json.dumps(exchange.to_json(), ensure_ascii=False).encode() + b"\n"
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)


def secrets_of(headers: Mapping[str, str], query: str | bytes) -> list[str]:
    """The keys a request carries (a bearer token, `x-api-key`, `x-goog-api-key`, `key=`)."""
    query = query.decode("latin-1") if isinstance(query, bytes) else query
    found = [value.split()[-1] for name, value in headers.items() if name.lower() in SECRET_HEADERS and value.split()]
    found += [match.group(0).split("=", 1)[1] for match in re.finditer(r"(?:^|(?<=&))key=[^&]*", query)]
    return [secret for secret in found if secret]


def redact_query(query: str) -> str:
    return _KEY_QUERY.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", query)


def recorded_request_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items() if name.lower() in RECORDED_REQUEST_HEADERS}


def split_events(content: str) -> tuple[str, ...]:
    """A server-sent-event stream as its events, each with its blank-line terminator."""
    return tuple(match.group(0) for match in _EVENT.finditer(content) if match.group(0))


# --- replaying -----------------------------------------------------------------------------


def with_token(exchange: Exchange, token: str | None) -> tuple[Any, tuple[str, ...] | None]:
    """The recorded answer (body, events) with `token` wherever the recorded token was."""
    old = exchange.token
    if not old or not token or old == token:
        return exchange.body, exchange.events
    body = _replace(exchange.body, old, token)
    return body, None if exchange.events is None else tuple(_swap_in_stream(exchange.events, old, token))


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replace(item, old, new) for key, item in value.items()}
    return value


def _swap_in_stream(events: Sequence[str], old: str, new: str) -> Iterator[str]:
    """The events with `new` for `old`. A model streams a token in pieces ("rrh-3f", "2a9c..."),
    so the text fields are read as one running text, the token swapped there, and each
    piece given back its own span (the tokens have one length); then whole ones anywhere."""
    decoded = [_data_of(event) for event in events]
    slots = [slot for data in decoded if data is not None for slot in _text_slots(data[1])]
    running = "".join(holder[key] for holder, key in slots)
    if old in running and len(old) == len(new):
        swapped, start = running.replace(old, new), 0
        for holder, key in slots:
            end = start + len(holder[key])
            holder[key], start = swapped[start:end], end
    for event, data in zip(events, decoded, strict=True):
        if data is None:
            yield event.replace(old, new)
            continue
        original, value = data
        value = _replace(value, old, new)
        yield event if value == original else _with_data(event, value)


def _data_of(event: str) -> tuple[Any, Any] | None:
    """The event's JSON data, as it was and as a copy to change; None if it has none."""
    lines = [line for line in event.splitlines() if line.startswith("data:")]
    if not lines:
        return None
    try:
        original = json.loads("\n".join(line[5:].removeprefix(" ") for line in lines))
    except ValueError:
        return None  # "[DONE]"
    return original, json.loads(json.dumps(original))


def _text_slots(value: Any) -> Iterator[tuple[dict[str, Any], str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _TEXT_FIELDS and isinstance(item, str):
                yield value, key
            else:
                yield from _text_slots(item)
    elif isinstance(value, list):
        for item in value:
            yield from _text_slots(item)


def _with_data(event: str, value: Any) -> str:
    """`event` with its data lines replaced by one carrying `value`, framed as before."""
    newline = "\r\n" if "\r\n" in event else "\n"
    kept = [line for line in event.splitlines() if line and not line.startswith("data:")]
    return newline.join([*kept, "data: " + json.dumps(value, ensure_ascii=False)]) + newline * 2


@dataclass(frozen=True)
class ReplayLog:
    """Where the fakes replaying a cassette note each lookup, one JSON line each (`hit` or
    `miss`, with the request's token), so a validation can count misses run by run."""

    path: Path

    def note(self, hit: bool, chat: ChatRequest, token: str | None) -> None:
        line = {"outcome": "hit" if hit else "miss", "token": token, "api": chat.api, "model": chat.model,
                "stream": chat.stream, "at": round(time.time(), 3)}
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, json.dumps(line).encode() + b"\n")
        finally:
            os.close(descriptor)


def read_log(path: Path) -> list[dict[str, Any]]:
    """The lookups a `ReplayLog` noted (none if no fake wrote one)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]

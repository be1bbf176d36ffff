"""Cassettes (`harness.fake_llm.cassette`): the fake records a real provider's answers once
(`--record FILE`) and replays them (`--cassette FILE`), in every protocol, whole and
streamed, with the current request's token in place of the recorded one. The "real
provider" is a second fake in auto mode on its own loopback port; the official SDKs are
the clients."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import respx
from google import genai
from google.genai import types
from starlette.types import ASGIApp, Receive, Scope, Send

from harness.fake_llm import FakeLLM, create_app
from harness.fake_llm.cassette import (
    CassetteError,
    Exchange,
    load,
    match_key,
    read_log,
    secrets_of,
    split_events,
    with_token,
)
from harness.fake_llm.chat import DEFAULT_TOKEN_PATTERN, ChatRequest
from harness.settings import Tape
from tests.unit.served import serving

PATTERN = re.compile(DEFAULT_TOKEN_PATTERN)
RECORDED = "rrh-aaaaaaaaaaaa"
REPLAYED = "rrh-bbbbbbbbbbbb"
OPENAI_KEY = "sk-proj-recording0123456789"
ANTHROPIC_KEY = "sk-ant-recording0123456789"
GEMINI_KEY = "AIzaRecording0123456789"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


class Headers:
    """Wraps an ASGI app and keeps the headers and query of each LLM request that reached it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[dict[str, str], str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(("/_fake", "/health")):
            headers = {name.decode(): value.decode() for name, value in scope["headers"]}
            self.seen.append((headers, scope["query_string"].decode()))
        await self.app(scope, receive, send)


@pytest.fixture
def provider() -> Iterator[tuple[str, Headers]]:
    """The "real provider": a fake in auto mode, answering every protocol."""
    app = Headers(create_app(auto=True))
    with serving(app) as url:
        yield url, app


def run_conversations(base_url: str, token: str) -> dict[str, Any]:
    """One agent's LLM calls in every protocol, whole and streamed, a tool call answered
    back; returns what the agent read of each answer."""
    seen: dict[str, Any] = {}
    oai = openai.OpenAI(base_url=base_url + "/v1", api_key=OPENAI_KEY, max_retries=0)
    tools = [{"type": "function", "function": {"name": "weather", "parameters": WEATHER}}]
    messages: list[Any] = [{"role": "user", "content": f"Weather in Lisbon? {token}"}]
    first = oai.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    seen["chat tool call"] = [call.id, call.function.name, call.function.arguments]
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    second = oai.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
    seen["chat after the tool"] = second.choices[0].message.content
    stream = oai.chat.completions.create(model="gpt-4o-mini", stream=True,
                                         messages=[{"role": "user", "content": f"Stream it {token}"}])
    seen["chat streamed"] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    events = list(oai.responses.create(model="gpt-4o-mini", input=f"Respond {token}", stream=True))
    seen["responses streamed"] = events[-1].response.output_text
    oai.close()
    claude = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=base_url, max_retries=0)
    ask = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": f"Hi {token}"}]}
    seen["anthropic"] = claude.messages.create(**ask).content[0].text
    with claude.messages.stream(**ask) as streamed:
        seen["anthropic streamed"] = streamed.get_final_text()
    claude.close()
    options = types.HttpOptions(base_url=base_url, retry_options=types.HttpRetryOptions(attempts=1))
    google = genai.Client(api_key=GEMINI_KEY, http_options=options)
    seen["gemini"] = google.models.generate_content(model="gemini-2.5-flash", contents=f"Hello {token}").text
    pieces = google.models.generate_content_stream(model="gemini-2.5-flash", contents=f"Stream {token}")
    seen["gemini streamed"] = "".join(piece.text or "" for piece in pieces)
    return seen


def recording_fake(path: Path, upstream: str) -> ASGIApp:
    return create_app(upstream=upstream + "/v1", tape=Tape(str(path), record=True))


def test_a_recorded_cassette_replays_every_protocol_with_the_current_token(
    provider: tuple[str, Headers], tmp_path: Path
) -> None:
    upstream, reached = provider
    cassette, log = tmp_path / "cassette.jsonl", tmp_path / "lookups.jsonl"
    with serving(recording_fake(cassette, upstream)) as url:
        with FakeLLM(url) as llm:
            llm.on().auto()  # as validation scripts it: the recording stands in for the auto mode
            recorded = run_conversations(url, RECORDED)
            assert all(call.forwarded for call in llm.calls)
    assert len(cassette.read_text().splitlines()) == len(reached.seen) == 8
    keys = {str(headers.get(name)).removeprefix("Bearer ") for headers, _ in reached.seen
            for name in ("authorization", "x-api-key", "x-goog-api-key")}
    assert {OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY} <= keys, "each protocol's key is passed on"
    text = cassette.read_text()
    assert OPENAI_KEY not in text and ANTHROPIC_KEY not in text and GEMINI_KEY not in text

    reached.seen.clear()
    with serving(create_app(tape=Tape(str(cassette), log=str(log)))) as url:
        with FakeLLM(url) as llm:
            llm.on().auto()
            replayed = run_conversations(url, REPLAYED)
            assert not any(call.forwarded for call in llm.calls)
            assert all(call.outcome == "ok" for call in llm.calls)
            streamed = [call for call in llm.calls if call.stream and call.api == "anthropic"]
            assert streamed[0].response["content"][0]["text"] == recorded["anthropic streamed"].replace(
                RECORDED, REPLAYED)
    assert reached.seen == [], "a replay never reaches the provider"
    assert replayed == json.loads(json.dumps(recorded).replace(RECORDED, REPLAYED))
    assert all(REPLAYED in str(value) for value in replayed.values())
    lookups = read_log(log)
    assert [entry["outcome"] for entry in lookups] == ["hit"] * 8
    assert {entry["token"] for entry in lookups} == {REPLAYED}


def test_a_miss_gets_the_auto_answer_or_an_error_in_the_protocols_shape(
    provider: tuple[str, Headers], tmp_path: Path
) -> None:
    upstream, _ = provider
    cassette = tmp_path / "cassette.jsonl"
    with serving(recording_fake(cassette, upstream)) as url:
        openai.OpenAI(base_url=url + "/v1", api_key=OPENAI_KEY).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"Recorded {RECORDED}"}])
    unrecorded = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "New"}]}

    with serving(create_app(tape=Tape(str(cassette), log=str(tmp_path / "auto.jsonl")))) as url:
        with FakeLLM(url) as llm:
            llm.on().auto()
            answer = anthropic.Anthropic(api_key="x", base_url=url, max_retries=0).messages.create(**unrecorded)
    assert answer.content[0].text.startswith("Auto answer")
    assert [entry["outcome"] for entry in read_log(tmp_path / "auto.jsonl")] == ["miss"]

    with serving(create_app(tape=Tape(str(cassette), on_miss="fail"))) as url:
        with FakeLLM(url) as llm:
            llm.on().auto()
            with pytest.raises(anthropic.BadRequestError) as raised:
                anthropic.Anthropic(api_key="x", base_url=url, max_retries=0).messages.create(**unrecorded)
            assert raised.value.body["error"]["type"] == "invalid_request_error"
            assert "has no recorded answer" in raised.value.body["error"]["message"]
            hit = openai.OpenAI(base_url=url + "/v1", api_key="x").chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"Recorded {REPLAYED}"}])
            assert REPLAYED in (hit.choices[0].message.content or "")


# --- matching, redaction, the token in a stream ------------------------------------------------


def test_requests_match_with_the_token_and_ids_masked_and_streaming_kept_apart() -> None:
    def key(body: dict[str, Any], stream: bool = False) -> str:
        return match_key("chat", "gpt-4o", stream, body, PATTERN)

    def ask(token: str, call_id: str, question: str = "Weather?") -> dict[str, Any]:
        return {"model": "gpt-4o", "stream": False, "messages": [
            {"role": "user", "content": f"{question} {token}"},
            {"role": "assistant", "tool_calls": [{"id": call_id, "type": "function",
                                                  "function": {"name": "weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": call_id, "content": "sunny"}]}

    assert key(ask(RECORDED, "call_1")) == key(ask(REPLAYED, "call_2") | {"stream_options": {"x": 1}})
    assert key(ask(RECORDED, "call_1")) != key(ask(RECORDED, "call_1", "Rain?"))
    assert key(ask(RECORDED, "call_1")) != key(ask(RECORDED, "call_1"), stream=True)
    assert match_key("gemini", "gemini-2.5-flash", False, {}, PATTERN) != match_key("gemini", "gemini-2.5-pro", False, {},
                                                                                    PATTERN)


def test_every_place_a_key_travels_is_found_for_redaction() -> None:
    headers = {"Authorization": "Bearer sk-1", "x-api-key": "ant-2", "X-Goog-Api-Key": "goog-3", "accept": "*/*"}
    assert secrets_of(headers, "alt=sse&key=goog-4") == ["sk-1", "ant-2", "goog-3", "goog-4"]
    assert secrets_of({}, b"key=goog-5") == ["goog-5"]


def test_a_token_streamed_in_pieces_is_swapped_piece_by_piece() -> None:
    chunk = 'data: {{"choices": [{{"index": 0, "delta": {{"content": "{}"}}}}]}}\n\n'
    stream = "".join(chunk.format(piece) for piece in ("Done ", RECORDED[:6], RECORDED[6:], ".")) + "data: [DONE]\n\n"
    events = split_events(stream)
    exchange = Exchange(api="chat", path="/v1/chat/completions", model="gpt-4o", stream=True, token=RECORDED,
                        request={}, status=200, headers={}, events=events)

    _, swapped = with_token(exchange, REPLAYED)

    assert swapped is not None and len(swapped) == 5 and swapped[-1] == "data: [DONE]\n\n"
    texts = [json.loads(event[6:])["choices"][0]["delta"]["content"] for event in swapped[:-1]]
    assert texts == ["Done ", REPLAYED[:6], REPLAYED[6:], "."]
    assert swapped[0] == events[0], "an event without the token is sent as recorded"


def test_a_replayed_answer_prefers_the_first_success_over_an_error_retried_past(tmp_path: Path) -> None:
    def line(status: int, body: Any) -> str:
        request = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"Hi {RECORDED}"}]}
        return json.dumps({"api": "chat", "path": "/v1/chat/completions", "model": "gpt-4o", "stream": False,
                           "token": RECORDED, "request": request, "status": status, "headers": {}, "body": body})

    path = tmp_path / "c.jsonl"
    path.write_text("\n".join([line(429, {"error": {}}), line(200, {"ok": 1}), line(200, {"ok": 2})]) + "\n")
    cassette = load(path, PATTERN)
    [first_429, success, _] = cassette.exchanges
    asked = ChatRequest.parse({"model": "gpt-4o", "messages": [{"role": "user", "content": f"Hi {REPLAYED}"}]}, PATTERN)
    assert cassette.find(asked) is success and first_429.status == 429


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "no such file"),
        ("", "holds no exchange"),
        ('{"api": "chat"}\n', "line 1: not a recorded exchange: missing or invalid field path, request, status, stream"),
        ('\n{"api": "chat", "path": "/", "request": {}, "status": 200, "stream": false}\nnot json\n', "line 3"),
    ],
)
def test_a_cassette_that_cannot_be_used_says_where(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "cassette.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CassetteError, match=re.escape(expected)):
        load(path, PATTERN)


def test_the_upstream_request_carries_each_protocols_key_and_path() -> None:
    """respx stands in for the providers' public URLs: a recording without --upstream goes there."""
    app = create_app(tape=Tape("/dev/null", record=True))
    with respx.mock(assert_all_called=True) as mock:
        routes = {
            "openai": mock.post("https://api.openai.com/v1/chat/completions").respond(json={"choices": []}),
            "anthropic": mock.post("https://api.anthropic.com/v1/messages").respond(json={"content": []}),
            "gemini": mock.post("https://generativelanguage.googleapis.com/v1beta/models/g:generateContent").respond(
                json={"candidates": []}),
        }
        transport = httpx.ASGITransport(app=app)

        async def send() -> None:
            async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
                await http.post("/v1/chat/completions", json={"model": "m", "messages": []},
                                headers={"Authorization": "Bearer sk-a"})
                await http.post("/messages", json={"model": "m", "messages": []}, headers={"x-api-key": "ant-b"})
                await http.post("/v1beta/models/g:generateContent?key=goog-c", json={"contents": []})

        import asyncio

        asyncio.run(send())
    assert routes["openai"].calls.last.request.headers["authorization"] == "Bearer sk-a"
    assert routes["anthropic"].calls.last.request.headers["x-api-key"] == "ant-b"
    assert routes["gemini"].calls.last.request.url.params["key"] == "goog-c"

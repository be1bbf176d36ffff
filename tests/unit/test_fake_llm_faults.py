"""LLM faults the fake plays: `stream_cut` (start answering, then drop the connection) and
scripted HTTP errors (500, 503, 429 with `Retry-After`) that run out after `times` and
match on model or prompt. Cuts need a real server: only a real socket can be dropped."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from openai import APIConnectionError, AsyncOpenAI

from harness.fake_llm import (
    DEFAULT_CUT_TEXT,
    Failure,
    FakeLLM,
    Match,
    Rule,
    StreamCut,
    create_app,
)
from tests.unit.fake_llm_helpers import body, calls, chat, put_rules, run_asgi

pytestmark = pytest.mark.anyio


def read_until_cut(url: str, payload: dict[str, Any]) -> tuple[int, bytes, Exception | None]:
    """POST and read the body as it comes; the status, the bytes that arrived, and how it ended."""
    received = b""
    with httpx.stream("POST", url, json=payload, timeout=5) as response:
        try:
            for data in response.iter_raw():
                received += data
        except httpx.HTTPError as exc:
            return response.status_code, received, exc
    return response.status_code, received, None


def data_lines(raw: bytes) -> list[str]:
    return [line[len("data: "):] for line in raw.decode().split("\n") if line.startswith("data: ")]


# --- the rule ----------------------------------------------------------------------------------


def test_stream_cut_round_trips_through_json() -> None:
    rules = [Rule(StreamCut(), times=2), Rule(StreamCut(0, "short"), Match(model="m"), first_token_delay_s=0.5)]

    assert [Rule.from_json(json.loads(json.dumps(rule.to_json()))) for rule in rules] == rules
    assert rules[0].to_json()["action"] == {"type": "stream_cut", "after_chunks": 2, "content": DEFAULT_CUT_TEXT}
    assert Rule.from_json({"action": {"type": "stream_cut"}}).action == StreamCut()


@pytest.mark.parametrize(
    ("action", "complaint"),
    [
        ({"type": "stream_cut", "after_chunks": -1}, "after_chunks must be >= 0"),
        ({"type": "stream_cut", "after_chunks": "2"}, "wrong type"),
        ({"type": "stream_cut", "after": 2}, "unknown stream_cut action field"),
    ],
)
async def test_a_bad_stream_cut_is_refused(client: httpx.AsyncClient, action: dict[str, Any], complaint: str) -> None:
    response = await client.post("/_fake/rules", json={"action": action})

    assert response.status_code == 400
    assert complaint in response.json()["error"]


# --- cuts over a real socket ---------------------------------------------------------------------


def test_a_cut_chat_stream_sends_some_chunks_and_never_done(llm: FakeLLM) -> None:
    llm.on(contains="cut").cut_stream(after_chunks=2)

    status, raw, ended = read_until_cut(
        llm.openai_base_url + "/chat/completions", body("cut me", stream=True) | {"model": "gpt-4o-mini"}
    )

    assert status == 200
    assert isinstance(ended, httpx.RemoteProtocolError), ended
    chunks = data_lines(raw)
    assert len(chunks) == 2 and "[DONE]" not in chunks
    assert json.loads(chunks[0])["choices"][0]["delta"]["role"] == "assistant"
    assert DEFAULT_CUT_TEXT.startswith(json.loads(chunks[1])["choices"][0]["delta"]["content"])
    call = llm.calls.last
    assert (call.outcome, call.status, call.stream, call.held) == ("cut", 200, True, False)
    assert call.finished_at is None and call.disconnected_at is not None and call.disconnected_at >= call.arrived_at


def test_a_cut_plain_answer_sends_half_the_body(llm: FakeLLM) -> None:
    llm.on(model="gpt-4o-mini").cut_stream(content="Export from Settings.")

    status, raw, ended = read_until_cut(llm.openai_base_url + "/chat/completions", body() | {"model": "gpt-4o-mini"})

    assert status == 200
    assert isinstance(ended, httpx.RemoteProtocolError), ended
    assert raw.startswith(b'{"id": "chatcmpl-fake-')
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    assert llm.calls.last.outcome == "cut"


def test_a_cut_responses_stream_never_completes(llm: FakeLLM) -> None:
    llm.on().cut_stream(after_chunks=100, content="a b c")

    status, raw, ended = read_until_cut(
        llm.openai_base_url + "/responses", {"model": "m", "input": "cut me", "stream": True}
    )

    assert status == 200 and isinstance(ended, httpx.RemoteProtocolError)
    events = [json.loads(line)["type"] for line in data_lines(raw)]
    assert events[0] == "response.created"
    assert events[-1] == "response.output_item.done", "every event but the terminating one"
    assert "response.completed" not in events
    call = llm.calls.last
    assert (call.api, call.outcome) == ("responses", "cut")


def test_after_zero_chunks_only_the_headers_go_out(llm: FakeLLM) -> None:
    llm.on().cut_stream(after_chunks=0)

    status, raw, ended = read_until_cut(llm.openai_base_url + "/chat/completions", body(stream=True))

    assert (status, raw) == (200, b"")
    assert isinstance(ended, httpx.RemoteProtocolError)


async def test_the_openai_sdk_retries_a_cut_and_the_ledger_shows_both(llm: FakeLLM) -> None:
    llm.on(contains="export").cut_stream(times=1)
    llm.on(contains="export").reply("Settings > Export.")
    sdk = AsyncOpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=1)

    answer = await sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "export?"}])
    llm.on(contains="stream").cut_stream(after_chunks=3)
    stream = await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "stream"}], stream=True
    )
    with pytest.raises(APIConnectionError):
        _ = [chunk async for chunk in stream]
    await sdk.close()

    assert answer.choices[0].message.content == "Settings > Export."
    first, retry, streamed = llm.calls
    assert (first.outcome, retry.outcome, streamed.outcome) == ("cut", "ok", "cut")
    assert first.fingerprint == retry.fingerprint


# --- cuts straight through ASGI -----------------------------------------------------------------


async def test_a_cut_ends_without_the_last_body_message() -> None:
    app = create_app()
    app.state.fake.rules.add(Rule(StreamCut(after_chunks=3)))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(run_asgi(app, body(stream=True), send), timeout=2)

    assert [m["type"] for m in sent] == ["http.response.start"] + ["http.response.body"] * 3
    assert all(m["more_body"] for m in sent[1:])
    [entry] = app.state.fake.ledger.entries()
    assert (entry.outcome, entry.status, entry.finished_at, entry.response) == ("cut", 200, None, None)


async def test_a_client_that_leaves_before_the_cut_is_disconnected_not_cut() -> None:
    app = create_app()
    app.state.fake.rules.add(Rule(StreamCut(), first_token_delay_s=5))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(run_asgi(app, body(stream=True), send, disconnect_after_s=0.1), timeout=2)

    assert [m["type"] for m in sent] == ["http.response.start"]
    [entry] = app.state.fake.ledger.entries()
    assert entry.outcome == "disconnected"


# --- scripted errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
async def test_a_server_error_matching_the_prompt_runs_out_after_times(client: httpx.AsyncClient, status: int) -> None:
    await put_rules(client, Rule(Failure(status), Match(contains="export"), times=2))

    other = await chat(client, "something else")
    failures = [await chat(client, "how do I export?") for _ in range(2)]
    after = await chat(client, "how do I export?")

    assert other.status_code == 200
    assert [r.status_code for r in failures] == [status, status]
    assert all("retry-after" not in r.headers for r in failures)
    assert failures[0].json()["error"] == {
        "message": f"fake LLM: scripted {status} error", "type": "server_error", "param": None, "code": None
    }
    assert after.status_code == 200
    entries = await calls(client)
    assert [(e["status"], e["outcome"], e["rule_index"]) for e in entries] == [
        (200, "ok", None), (status, "error", 0), (status, "error", 0), (200, "ok", None)
    ]
    assert entries[1]["response"] == failures[0].json()


@pytest.mark.parametrize(("retry_after", "header"), [(1, "1"), (0.5, "0.5"), (30.0, "30")])
async def test_retry_after_matching_the_model(client: httpx.AsyncClient, retry_after: float, header: str) -> None:
    await put_rules(client, Rule(Failure(429, retry_after=retry_after), Match(model="gpt-4o-mini"), times=1))

    other_model = await client.post("/v1/chat/completions", json=body())  # gpt-4o
    limited = await client.post("/v1/chat/completions", json=body() | {"model": "gpt-4o-mini"})
    again = await client.post("/v1/chat/completions", json=body() | {"model": "gpt-4o-mini"})

    assert other_model.status_code == 200
    assert (limited.status_code, limited.headers["retry-after"]) == (429, header)
    assert limited.json()["error"]["code"] == "rate_limit_error"
    assert again.status_code == 200


async def test_a_503_with_retry_after_and_a_message(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Failure(503, retry_after=2, message="overloaded"), times=1))

    response = await chat(client)

    assert (response.status_code, response.headers["retry-after"]) == (503, "2")
    assert response.json()["error"]["message"] == "overloaded"


async def test_the_openai_sdk_gives_up_on_a_500_that_outlasts_its_retries(llm: FakeLLM) -> None:
    llm.on(model="gpt-4o-mini").fail(500, times=3)
    sdk = AsyncOpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=1)

    with pytest.raises(Exception) as caught:
        await sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    answer = await sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    await sdk.close()

    assert getattr(caught.value, "status_code", None) == 500
    assert answer.choices[0].message.content == "OK."
    assert [c.status for c in llm.calls] == [500, 500, 500, 200]

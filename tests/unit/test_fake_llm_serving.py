"""How the fake LLM process serves (uvloop and httptools, as `python -m harness.fake_llm`
runs it), and the ledger's ways of staying cheap in a long soak: bodies kept as JSON
text out of the garbage collector's sight, token inference that reads only the recent
end of the ledger, and no event made for a call that is never held."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from harness.fake_llm import FakeLLM, Reply, Rule, StreamCut, create_app
from harness.fake_llm.__main__ import SERVER_OPTIONS
from harness.fake_llm.chat import DEFAULT_TOKEN_PATTERN, ChatRequest
from harness.fake_llm.ledger import Ledger
from harness.fake_llm.reassemble import chat_completion, sse_data
from tests.unit.fake_llm_helpers import TOKEN, body
from tests.unit.served import serving

OTHER = "rrh-ba9876543210"


def parsed(content: str, **extra: Any) -> ChatRequest:
    return ChatRequest.parse(body(content, **extra), re.compile(DEFAULT_TOKEN_PATTERN))


@pytest.fixture(scope="module")
def process_config() -> Iterator[FakeLLM]:
    """The app served with the options the fake's own process uses, in a thread."""
    with serving(create_app(), **SERVER_OPTIONS) as url, FakeLLM(url) as llm:
        yield llm


@pytest.fixture
def llm(process_config: FakeLLM) -> Iterator[FakeLLM]:
    process_config.reset()
    yield process_config
    process_config.reset()


def test_the_process_serves_with_the_c_parser_and_loop() -> None:
    assert (SERVER_OPTIONS["loop"], SERVER_OPTIONS["http"]) == ("uvloop", "httptools")
    config = uvicorn.Config(create_app(), **SERVER_OPTIONS)
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"


def test_whole_streamed_and_cut_answers_over_httptools(llm: FakeLLM) -> None:
    llm.on(contains="cut").cut_stream(after_chunks=1)
    url = llm.openai_base_url + "/chat/completions"
    whole = httpx.post(url, json=body(f"hi {TOKEN}"), timeout=5)
    streamed = httpx.post(url, json=body(f"hi {TOKEN}", stream=True), timeout=5)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(url, json=body("cut", stream=True), timeout=5)

    assert whole.json()["choices"][0]["message"]["content"] == "OK."
    assert chat_completion(sse_data(streamed.content) or [])["choices"][0]["message"]["content"] == "OK."
    calls = llm.calls
    assert [c.outcome for c in calls] == ["ok", "ok", "cut"]
    assert calls[0].request == body(f"hi {TOKEN}")
    assert calls[0].response == whole.json()
    assert calls[1].response["choices"][0]["message"]["content"] == "OK."
    assert calls[2].response is None


# --- the ledger ------------------------------------------------------------------------------------


def test_an_entry_keeps_its_bodies_as_json_text_and_serves_them_decoded() -> None:
    ledger = Ledger()
    request = parsed(f"hello {TOKEN}", tools=[{"type": "function", "function": {"name": "f"}}])
    raw = json.dumps(request.body).encode()
    entry = ledger.open(request, raw=raw)
    answer = {"id": "x", "choices": [{"message": {"content": "hi"}}], "usage": {"total_tokens": 3}}
    entry.mark_finished("ok", answer, answer["usage"])

    assert not gc.is_tracked(entry.request_json) and not gc.is_tracked(entry.response_json)
    assert (entry.request, entry.response) == (request.body, answer)
    assert entry.to_json()["request"] == request.body and entry.to_json()["response"] == answer
    assert ledger.open(request).request == request.body  # no raw body at hand: encoded


def test_a_rendered_answer_is_stored_as_rendered() -> None:
    entry = Ledger().open(parsed("hello"))
    entry.mark_finished("ok", {"a": 1}, None, body_json=b'{"a":1}')

    assert (entry.response_json, entry.response) == (b'{"a":1}', {"a": 1})


def test_an_unfinished_entry_has_no_response() -> None:
    entry = Ledger().open(parsed("hello"))
    entry.mark_disconnected()

    assert (entry.response, entry.to_json()["response"]) == (None, None)


def test_token_inference_reads_only_the_recent_end_of_the_ledger() -> None:
    ledger = Ledger()
    ledger.open(parsed(f"oldest {OTHER}")).arrived_at -= 180
    ledger.open(parsed(f"old {OTHER}")).arrived_at -= 120
    ledger._entries[0] = None  # type: ignore[call-overload]  # reading past the window's edge would fail here
    ledger.open(parsed(f"new {TOKEN}"))
    ledger.open(parsed("no token"))

    assert ledger.sole_recent_token(60) == TOKEN


def test_token_inference_still_refuses_two_tokens_and_ignores_inferred_ones() -> None:
    ledger = Ledger()
    ledger.open(parsed(f"a {TOKEN}"))
    inferred = ledger.open(parsed("none"))
    inferred.token, inferred.token_inferred = OTHER, True
    assert ledger.sole_recent_token(60) == TOKEN

    ledger.open(parsed(f"b {OTHER}"))
    ledger.open(parsed(f"c {TOKEN}"))
    assert ledger.sole_recent_token(60) is None
    assert Ledger().sole_recent_token(60) is None


def test_a_call_gets_its_release_event_only_when_it_needs_one() -> None:
    entry = Ledger().open(parsed("hello"))
    assert entry._release_signal is None

    entry.release()  # released before anyone waits: the wait is over at once
    assert entry.release_signal.is_set()
    asyncio.run(asyncio.wait_for(entry.release_signal.wait(), 1))


def test_the_request_shape_is_worked_out_once() -> None:
    request = parsed(f"hello {TOKEN}")

    assert request.shape is request.shape and "{token}" in request.shape
    assert request.answer_id == parsed(f"hello {OTHER}").answer_id


def test_a_held_rule_still_holds_and_releases(llm: FakeLLM) -> None:
    llm.on().hold().reply("held")
    url = llm.openai_base_url + "/chat/completions"
    results: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: results.append(httpx.post(url, json=body(TOKEN), timeout=5)))
    thread.start()
    call = llm.wait_for_call(1, held=True, timeout=5)
    llm.release(call)
    thread.join(timeout=5)

    assert results[0].json()["choices"][0]["message"]["content"] == "held"
    assert llm.calls[0].outcome == "ok"


def test_rules_are_unchanged_by_serving(llm: FakeLLM) -> None:
    llm.add_rule(Rule(Reply("first"), times=1))
    llm.add_rule(Rule(StreamCut()))
    url = llm.openai_base_url + "/chat/completions"

    assert httpx.post(url, json=body("x"), timeout=5).json()["choices"][0]["message"]["content"] == "first"
    assert [r.hits for r in llm.rules] == [1, 0]

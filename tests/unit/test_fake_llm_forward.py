"""The fake LLM as a recording proxy (`--upstream URL`): what no rule scripts, and what a
`forward()` rule matches, goes to a real LLM with the agent's own key and comes back as it
came (streams chunk by chunk, errors with their status), recorded in the ledger without the
key. The "real LLM" here is a second fake, served on its own loopback port, wrapped so the
test can see the headers and raw bodies that reached it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
import respx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.fake_llm import FakeLLM, Forward, LLMCall, Rule, create_app
from harness.fake_llm.__main__ import parse_args
from tests.unit.fake_llm_helpers import TOKEN
from tests.unit.served import serving

KEY = "sk-test-0123456789abcdefghij"


@dataclass(frozen=True)
class Arrival:
    """What one LLM request brought to the upstream."""

    path: str
    authorization: str | None
    body: bytes


class Recorder:
    """Wraps an ASGI app and notes each LLM request's path, Authorization header and raw body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.arrivals: list[Arrival] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = [await receive()]
        while messages[-1].get("more_body", False):
            messages.append(await receive())
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        body = b"".join(message.get("body", b"") for message in messages)
        self.arrivals.append(Arrival(scope["path"], headers.get("authorization"), body))

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


@pytest.fixture(scope="module")
def upstream_app() -> Recorder:
    return Recorder(create_app())


@pytest.fixture(scope="module")
def upstream_url(upstream_app: Recorder) -> Iterator[str]:
    with serving(upstream_app) as url:
        yield url + "/v1"


@pytest.fixture(scope="module")
def proxy_url(upstream_url: str) -> Iterator[str]:
    with serving(create_app(upstream=upstream_url)) as url:
        yield url


@pytest.fixture
def upstream(upstream_app: Recorder, upstream_url: str) -> Iterator[FakeLLM]:
    """The "real LLM", scripted: its rules and ledger, reset around each test."""
    with FakeLLM(upstream_url.removesuffix("/v1")) as llm:
        llm.reset()
        upstream_app.arrivals.clear()
        yield llm
        llm.reset()


@pytest.fixture
def proxy(proxy_url: str, upstream: FakeLLM) -> Iterator[FakeLLM]:
    """The fake under test, forwarding to `upstream`."""
    with FakeLLM(proxy_url) as llm:
        llm.reset()
        yield llm
        llm.reset()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chat(content: str = f"hello {TOKEN}", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]} | extra


def post(llm: FakeLLM, payload: dict[str, Any], *, timeout: float | httpx.Timeout = 10) -> httpx.Response:
    headers = {"Authorization": f"Bearer {KEY}"}
    return httpx.post(llm.openai_base_url + "/chat/completions", json=payload, headers=headers, timeout=timeout)


def ledger_text(llm: FakeLLM) -> str:
    return httpx.get(llm.base_url + "/_fake/calls").text


def wait_for_outcome(llm: FakeLLM, call_id: int, outcome: str, timeout: float = 5.0) -> LLMCall:
    deadline = time.monotonic() + timeout
    while (call := llm.call(call_id)).outcome != outcome and time.monotonic() < deadline:
        time.sleep(0.02)
    return call


# --- forwarding ------------------------------------------------------------------------------


def test_unmatched_requests_go_upstream_with_their_body_and_key(
    proxy: FakeLLM, upstream: FakeLLM, upstream_app: Recorder
) -> None:
    upstream.on().reply("From the real LLM.")
    proxy.on(contains="scripted").reply("From a rule.")
    raw = ('{"messages": [{"role": "user", "content": "hi ' + TOKEN + '"}],   "model": "gpt-4o"}').encode()

    forwarded = httpx.post(
        proxy.openai_base_url + "/chat/completions",
        content=raw,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json", "Cookie": "agent=1"},
        timeout=10,
    )
    scripted = post(proxy, chat("scripted"))

    assert forwarded.json()["choices"][0]["message"]["content"] == "From the real LLM."
    assert scripted.json()["choices"][0]["message"]["content"] == "From a rule."
    [arrival] = upstream_app.arrivals
    assert arrival == Arrival("/v1/chat/completions", f"Bearer {KEY}", raw)
    [there] = upstream.calls
    first, second = proxy.calls
    assert (first.forwarded, first.status, first.outcome, first.rule_index) == (True, 200, "ok", None)
    assert (first.token, first.fingerprint) == (TOKEN, there.fingerprint)
    assert first.response == forwarded.json() and first.usage == forwarded.json()["usage"]
    assert first.finished_at is not None and first.finished_at >= first.arrived_at
    assert (second.forwarded, second.rule_index) == (False, 0)
    assert KEY not in ledger_text(proxy)


def test_a_stream_passes_through_to_the_openai_sdk_chunk_by_chunk(proxy: FakeLLM, upstream: FakeLLM) -> None:
    upstream.on().first_token_delay(0.6).reply("one two three four five six")
    sdk = openai.OpenAI(base_url=proxy.openai_base_url, api_key=KEY, max_retries=0)

    started = time.monotonic()
    stream = sdk.chat.completions.create(**chat(), stream=True, stream_options={"include_usage": True})
    opened = time.monotonic() - started
    chunks = list(stream)
    sdk.close()

    assert opened < 0.4, "the headers should come through before the upstream's first chunk"
    assert time.monotonic() - started >= 0.6
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "one two three four five six"
    call = proxy.calls.last
    assert (call.forwarded, call.stream, call.status, call.outcome) == (True, True, 200, "ok")
    assert call.response["choices"][0]["message"]["content"] == "one two three four five six"
    assert call.response["choices"][0]["finish_reason"] == "stop"
    assert call.usage == upstream.calls.last.usage
    assert KEY not in ledger_text(proxy)


def test_a_responses_stream_passes_through_and_is_recorded_whole(proxy: FakeLLM, upstream: FakeLLM) -> None:
    upstream.on().reply("Hello from upstream.")
    sdk = openai.OpenAI(base_url=proxy.openai_base_url, api_key=KEY, max_retries=0)

    events = list(sdk.responses.create(model="gpt-4o-mini", input=f"hi {TOKEN}", stream=True))
    sdk.close()

    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Hello from upstream."
    call = proxy.calls.last
    assert (call.api, call.forwarded, call.token, call.outcome) == ("responses", True, TOKEN, "ok")
    assert call.response["output"][0]["content"][0]["text"] == "Hello from upstream."
    assert call.usage is not None and call.usage["total_tokens"] > 0


def test_a_scripted_fault_then_the_real_answer_on_retry(proxy: FakeLLM, upstream: FakeLLM) -> None:
    upstream.on().reply("Real.")
    proxy.on().fail(503, retry_after=0, times=1)
    sdk = openai.OpenAI(base_url=proxy.openai_base_url, api_key=KEY, max_retries=1)

    answer = sdk.chat.completions.create(**chat())
    sdk.close()

    assert answer.choices[0].message.content == "Real."
    assert [(c.status, c.forwarded) for c in proxy.calls] == [(503, False), (200, True)]
    assert len(upstream.calls) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_held_forward_is_fetched_first_and_sent_on_release(proxy: FakeLLM, upstream: FakeLLM, stream: bool) -> None:
    upstream.on().reply("Worth the wait.")
    proxy.on(contains="hold me").hold().forward()
    result: dict[str, httpx.Response] = {}
    asker = threading.Thread(target=lambda: result.setdefault("r", post(proxy, chat("hold me", stream=stream))))

    asker.start()
    held = proxy.wait_for_call(1, held=True, timeout=5)
    assert upstream.calls.last.outcome == "ok", "the upstream has answered before the hold"
    time.sleep(0.1)
    assert "r" not in result
    proxy.release(held)
    asker.join(timeout=5)

    response = result["r"]
    assert response.status_code == 200
    call = proxy.call(held.id)
    assert call.response["choices"][0]["message"]["content"] == "Worth the wait."
    assert call.released_at is not None and call.finished_at is not None
    assert held.arrived_at < call.released_at <= call.finished_at
    assert (call.forwarded, call.outcome) == (True, "ok")
    if stream:
        assert response.text.rstrip().endswith("data: [DONE]")
    else:
        assert response.json()["choices"][0]["message"]["content"] == "Worth the wait."


# --- upstream errors -------------------------------------------------------------------------


def test_an_upstream_429_is_passed_through_with_its_status_headers_and_body(proxy: FakeLLM, upstream: FakeLLM) -> None:
    upstream.on().fail(429, retry_after=7, message="Rate limit reached for gpt-4o.")
    sdk = openai.OpenAI(base_url=proxy.openai_base_url, api_key=KEY, max_retries=0)

    with pytest.raises(openai.RateLimitError) as raised:
        sdk.chat.completions.create(**chat(), stream=True)
    sdk.close()

    assert raised.value.status_code == 429
    assert raised.value.response.headers["retry-after"] == "7"
    assert "Rate limit reached for gpt-4o." in raised.value.message
    call = proxy.calls.last
    assert (call.forwarded, call.status, call.outcome, call.usage) == (True, 429, "error", None)
    assert call.response["error"]["message"] == "Rate limit reached for gpt-4o."


def test_a_key_the_upstream_echoes_stays_out_of_the_ledger(proxy: FakeLLM, upstream: FakeLLM) -> None:
    upstream.on().fail(401, message=f"Incorrect API key provided: {KEY}.")

    response = post(proxy, chat())

    assert response.status_code == 401 and KEY in response.text, "the agent gets the upstream's answer as it is"
    assert proxy.calls.last.outcome == "error"
    assert KEY not in ledger_text(proxy)


def test_an_upstream_stream_that_breaks_off_breaks_off_for_the_agent(proxy: FakeLLM, upstream: FakeLLM) -> None:
    upstream.on().cut_stream(after_chunks=2)

    url = proxy.openai_base_url + "/chat/completions"
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("POST", url, json=chat(stream=True)) as response:
        response.read()

    call = wait_for_outcome(proxy, 1, "cut")
    assert (call.forwarded, call.status, call.outcome, call.finished_at) == (True, 200, "cut", None)


@pytest.mark.parametrize("hold", [False, True])
def test_an_agent_that_gives_up_cancels_the_forward(proxy: FakeLLM, upstream: FakeLLM, hold: bool) -> None:
    upstream.on().hang()
    if hold:
        proxy.on().hold().forward()

    with pytest.raises(httpx.ReadTimeout):
        post(proxy, chat(), timeout=httpx.Timeout(5.0, read=0.3))

    assert wait_for_outcome(proxy, 1, "disconnected").forwarded
    assert wait_for_outcome(upstream, 1, "disconnected").outcome == "disconnected"


@pytest.mark.parametrize("stream", [False, True])
def test_an_unreachable_upstream_is_a_502(stream: bool) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    with serving(create_app(upstream=dead)) as url, FakeLLM(url) as llm:
        response = post(llm, chat(stream=stream))
        call = llm.calls.last

    assert response.status_code == 502
    assert response.json()["error"]["type"] == "server_error"
    assert f"forwarding to the upstream {dead} failed: ConnectError" in response.json()["error"]["message"]
    assert (call.forwarded, call.status, call.outcome) == (True, 502, "error")
    assert call.response == response.json()


def test_forward_without_an_upstream_is_a_502_saying_so() -> None:
    with serving(create_app()) as url, FakeLLM(url) as llm:
        llm.on(contains="real").forward()
        forwarded = post(llm, chat("the real thing"))
        unmatched = post(llm, chat("anything else"))
        first, second = llm.calls
        upstream = llm.upstream

    assert forwarded.status_code == 502
    assert "no upstream is configured" in forwarded.json()["error"]["message"]
    assert "--upstream" in forwarded.json()["error"]["message"]
    assert (first.forwarded, first.status, first.outcome) == (False, 502, "error")
    assert unmatched.json()["choices"][0]["message"]["content"] == "OK."
    assert second.outcome == "ok"
    assert upstream is None


# --- the client, the rule, the command line --------------------------------------------------


def test_the_client_reads_the_upstream(proxy: FakeLLM, upstream_url: str) -> None:
    assert proxy.upstream == upstream_url


def test_forward_posts_a_forward_rule_chained_with_hold_and_times() -> None:
    with respx.mock(base_url="http://127.0.0.1:9999") as mock, FakeLLM("http://127.0.0.1:9999") as llm:
        route = mock.post("/_fake/rules").respond(201, json={"id": "r1", "index": 0, "rule": {}})
        rule = llm.on(contains="refund").hold().times(2).forward().rule

    assert rule == Rule(Forward(), rule.match, times=2, hold=True)
    posted = json.loads(route.calls.last.request.content)
    assert posted["action"] == {"type": "forward"}
    assert (posted["match"], posted["times"], posted["hold"]) == ({"contains": "refund"}, 2, True)
    assert Rule.from_json(posted) == rule


def test_the_upstream_comes_from_the_flag_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_LLM_UPSTREAM", raising=False)
    assert parse_args(["--port", "1"]).upstream is None
    monkeypatch.setenv("FAKE_LLM_UPSTREAM", "https://api.openai.com/v1/")
    assert parse_args(["--port", "1"]).upstream == "https://api.openai.com/v1"
    assert parse_args(["--port", "1", "--upstream", "http://127.0.0.1:1/v1"]).upstream == "http://127.0.0.1:1/v1"
    with pytest.raises(SystemExit):
        parse_args(["--port", "1", "--upstream", "api.openai.com/v1"])

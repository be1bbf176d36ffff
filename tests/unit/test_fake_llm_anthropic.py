"""The fake LLM's Anthropic Messages endpoint (`POST /v1/messages`, and `/messages` for the
Vercel AI SDK): the same rules, auto mode, ledger and faults as the OpenAI endpoints,
answered in Anthropic's shapes, and the real `anthropic` SDK against it."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import httpx
import pytest

from harness.fake_llm import FakeLLM, LLMCall, Match, Reply, Rule, tool_call
from tests.unit.fake_llm_helpers import TOKEN, calls, put_rules, schema_errors, strings_in

pytestmark = pytest.mark.anyio

ROUTER = "You route customer questions to a specialist."
REFUND = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "amount": {"type": "number", "exclusiveMinimum": 0}},
    "required": ["order_id", "amount"],
}
TOOLS = [
    {"name": "Refund", "description": "refund an order", "input_schema": REFUND},
    {"name": "Lookup", "description": "look an order up",
     "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}},
    {"type": "web_search_20250305", "name": "web_search"},  # Anthropic's own tool: never called
]
SCHEMAS = {tool["name"]: tool["input_schema"] for tool in TOOLS if "input_schema" in tool}


def sdk(llm: FakeLLM) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="x", base_url=llm.base_url, max_retries=0)


def ask(question: str = f"refund order 7 {TOKEN}", **extra: Any) -> dict[str, Any]:
    """A request as the SDK sends it: the system prompt apart, as text blocks."""
    return {"model": "claude-fake", "max_tokens": 100, "system": [{"type": "text", "text": ROUTER}],
            "messages": [{"role": "user", "content": question}]} | extra


def blocks(message: Any) -> list[dict[str, Any]]:
    """A message's content blocks as JSON (a streamed message's blocks are the SDK's `Parsed...` kinds)."""
    return [block.model_dump(exclude_none=True) for block in message.content]


def sse_events(raw: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each server-sent event; checks the name is the data's type."""
    events = []
    for block in filter(str.strip, raw.split("\n\n")):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        data = json.loads(lines["data"])
        assert lines["event"] == data["type"]
        events.append((lines["event"], data))
    return events


# --- answers, whole and streamed -------------------------------------------------------------------


def test_a_text_answer_has_the_message_shape(llm: FakeLLM) -> None:
    llm.on(system_contains="route customer").reply("Use Settings > Export.")

    message = sdk(llm).messages.create(**ask())

    assert (message.type, message.role, message.model, message.stop_reason) == (
        "message", "assistant", "claude-fake", "end_turn")
    [block] = message.content
    assert (block.type, block.text) == ("text", "Use Settings > Export.")  # type: ignore[union-attr]
    assert message.id.startswith("msg_fake_") and message.usage.input_tokens > 0 < message.usage.output_tokens
    [call] = llm.calls
    assert (call.api, call.token, call.outcome, call.status) == ("anthropic", TOKEN, "ok", 200)
    assert call.model == "claude-fake"
    assert call.usage == {"input_tokens": message.usage.input_tokens, "output_tokens": message.usage.output_tokens,
                          "total_tokens": message.usage.input_tokens + message.usage.output_tokens}
    assert call.response == message.model_dump(exclude_none=True) | {"stop_sequence": None}


def test_a_streamed_answer_goes_from_message_start_to_message_stop(llm: FakeLLM) -> None:
    text = "Open Settings, choose Data, then click Export."
    llm.on().reply(text)

    with sdk(llm).messages.stream(**ask()) as stream:
        pieces = list(stream.text_stream)
        streamed = stream.get_final_message()
    raw = httpx.post(llm.base_url + "/v1/messages", json=ask(stream=True)).text
    whole = sdk(llm).messages.create(**ask())

    assert len(pieces) > 1 and "".join(pieces) == text
    assert blocks(streamed) == blocks(whole) and streamed.id == whole.id and streamed.stop_reason == "end_turn"
    assert streamed.usage.output_tokens == whole.usage.output_tokens
    names = [name for name, _ in sse_events(raw)]
    assert names[:2] == ["message_start", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[2:-3]) == {"content_block_delta"}
    assert llm.calls[0].response == whole.model_dump(exclude_none=True) | {"stop_sequence": None}
    assert [c.stream for c in llm.calls] == [True, True, False]


def test_a_scripted_tool_call_streams_its_input_as_json_deltas(llm: FakeLLM) -> None:
    llm.on(has_tools=True).reply(tool_call("Refund", {"order_id": "order 7", "amount": 40}))

    with sdk(llm).messages.stream(**ask(tools=TOOLS)) as stream:
        streamed = stream.get_final_message()
    whole = sdk(llm).messages.create(**ask(tools=TOOLS))
    raw = httpx.post(llm.base_url + "/v1/messages", json=ask(tools=TOOLS, stream=True)).text

    [block] = blocks(streamed)
    assert block == {"type": "tool_use", "id": "toolu_" + whole.id.removeprefix("msg_fake_"), "name": "Refund",
                     "input": {"order_id": "order 7", "amount": 40}}
    assert streamed.stop_reason == "tool_use" and blocks(streamed) == blocks(whole)
    deltas = [data["delta"] for name, data in sse_events(raw) if name == "content_block_delta"]
    assert len(deltas) > 1 and {d["type"] for d in deltas} == {"input_json_delta"}
    assert json.loads("".join(d["partial_json"] for d in deltas)) == {"order_id": "order 7", "amount": 40}


async def test_the_vercel_path_and_rules_on_texts_model_and_token(client: httpx.AsyncClient) -> None:
    await put_rules(
        client,
        Rule(Reply("by tool result"), Match(contains="refunded for")),
        Rule(Reply("by model"), Match(model="claude-other")),
        Rule(Reply("by token"), Match(token=TOKEN)),
    )
    tool_result = [{"type": "tool_result", "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "refunded for order 7"}]}]

    answers = [
        (await client.post(path, json=payload)).json()["content"][0]["text"]
        for path, payload in [
            ("/messages", ask(messages=[{"role": "user", "content": tool_result}])),
            ("/messages", ask("no token here") | {"model": "claude-other"}),
            ("/v1/messages", ask(messages=[{"role": "user", "content": [{"type": "text", "text": f"hi {TOKEN}"}]}])),
            ("/v1/messages", ask("no token here")),
        ]
    ]

    assert answers == ["by tool result", "by model", "by token", "OK."]
    assert {entry["api"] for entry in await calls(client)} == {"anthropic"}


# --- the auto mode -----------------------------------------------------------------------------------


def test_auto_calls_an_offered_tool_then_answers_in_text_after_its_result(llm: FakeLLM) -> None:
    llm.on().auto()
    client = sdk(llm)

    routed = client.messages.create(**ask(tools=TOOLS))
    again = client.messages.create(**ask(tools=TOOLS))
    [use] = blocks(routed)
    history = [
        {"role": "user", "content": f"refund order 7 {TOKEN}"},
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "refunded"}]},
    ]
    answered = client.messages.create(**ask(tools=TOOLS, messages=history))

    assert routed.stop_reason == "tool_use" and use["type"] == "tool_use" and use["name"] in SCHEMAS
    assert schema_errors(use["input"], SCHEMAS[use["name"]]) == []
    assert strings_in(use["input"]) and all(TOKEN in text for text in strings_in(use["input"]))
    assert blocks(again) == blocks(routed), "the same request, the same tool call and id"
    [text] = answered.content
    assert answered.stop_reason == "end_turn" and text.text.endswith(f"[{TOKEN}]")  # type: ignore[union-attr]
    assert [c.token for c in llm.calls] == [TOKEN] * 3


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "none"}, {None}),
        ({"type": "tool", "name": "Lookup"}, {"Lookup"}),
        ({"type": "any"}, {"Refund", "Lookup"}),
    ],
)
def test_auto_honours_tool_choice(llm: FakeLLM, choice: dict[str, Any], expected: set[str | None]) -> None:
    llm.on().auto()

    called = set()
    for n in range(8):
        [block] = sdk(llm).messages.create(**ask(f"ask {n} {TOKEN}", tools=TOOLS, tool_choice=choice)).content
        called.add(block.name if block.type == "tool_use" else None)  # type: ignore[union-attr]

    assert called == expected


# --- faults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (503, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_each_error_reaches_the_sdk_as_its_own_exception(
    llm: FakeLLM, status: int, error: type[anthropic.APIStatusError], kind: str, stream: bool
) -> None:
    llm.on().fail(status, retry_after=2, message=f"scripted {status}")

    with pytest.raises(error) as raised:
        if stream:
            with sdk(llm).messages.stream(**ask()) as answer:
                answer.get_final_message()
        else:
            sdk(llm).messages.create(**ask())

    assert raised.value.status_code == status and raised.value.response.headers["retry-after"] == "2"
    assert raised.value.body == {"type": "error", "error": {"type": kind, "message": f"scripted {status}"}}
    assert [(c.outcome, c.status, c.api) for c in llm.calls] == [("error", status, "anthropic")]


@pytest.mark.parametrize("stream", [False, True])
def test_a_malformed_answer_raises_in_the_sdk(llm: FakeLLM, stream: bool) -> None:
    llm.on().malformed()

    with pytest.raises(ValueError, match="Unterminated string"):
        if stream:
            with sdk(llm).messages.stream(**ask()) as answer:
                answer.get_final_message()
        else:
            sdk(llm).messages.create(**ask())

    assert [(c.outcome, c.status) for c in llm.calls] == [("malformed", 200)]


@pytest.mark.parametrize("stream", [False, True])
def test_a_cut_answer_raises_in_the_sdk(llm: FakeLLM, stream: bool) -> None:
    llm.on().cut_stream(after_chunks=4)

    with pytest.raises(anthropic.APIConnectionError):
        if stream:
            with sdk(llm).messages.stream(**ask()) as answer:
                answer.get_final_message()
        else:
            sdk(llm).messages.create(**ask())

    assert [(c.outcome, c.status) for c in llm.calls] == [("cut", 200)]


def test_a_cut_stream_never_sends_message_stop(llm: FakeLLM) -> None:
    llm.on().cut_stream(after_chunks=99)
    received = b""

    with pytest.raises(httpx.RemoteProtocolError), httpx.stream(
        "POST", llm.base_url + "/v1/messages", json=ask(stream=True)
    ) as response:
        for data in response.iter_raw():
            received += data

    names = [name for name, _ in sse_events(received.decode())]
    assert names[0] == "message_start" and names[-1] == "message_delta" and "message_stop" not in names


def test_a_held_call_answers_on_release_and_a_delay_delays(llm: FakeLLM) -> None:
    llm.on(contains="held").hold().reply("released")
    llm.on().first_token_delay(0.3).reply("late")

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(sdk(llm).messages.create, **ask(f"held {TOKEN}"))
        held = llm.wait_for_call(1, held=True)
        time.sleep(0.1)
        assert not pending.done()
        llm.release(held)
        answer = pending.result(timeout=5)
    started = time.monotonic()
    with sdk(llm).messages.stream(**ask()) as stream:
        late = stream.get_final_message()

    assert answer.content[0].text == "released"  # type: ignore[union-attr]
    assert late.content[0].text == "late" and time.monotonic() - started >= 0.3  # type: ignore[union-attr]


def test_a_forward_rule_answers_that_forwarding_is_for_openai_only(llm: FakeLLM) -> None:
    llm.on().forward()

    with pytest.raises(anthropic.InternalServerError) as raised:
        sdk(llm).messages.create(**ask())

    assert raised.value.status_code == 501
    assert raised.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert "OpenAI protocols" in raised.value.body["error"]["message"]  # type: ignore[index]
    assert [(c.outcome, c.forwarded) for c in llm.calls] == [("error", False)]


async def test_a_body_that_is_not_an_object_gets_an_anthropic_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/messages", json=["not", "an", "object"])

    assert response.status_code == 400
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "invalid_request_error"


# --- the ledger ------------------------------------------------------------------------------------


async def test_fingerprints_group_one_call_streamed_or_not(client: httpx.AsyncClient) -> None:
    for payload in (ask(), ask(stream=True), ask(system="You are billing."), ask(tools=TOOLS), ask() | {"model": "x"}):
        await client.post("/v1/messages", json=payload)

    prints = [entry["fingerprint"] for entry in await calls(client)]

    assert prints[0] == prints[1] and len(set(prints[1:])) == 4


def test_the_sdk_reads_anthropic_base_url(llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm.base_url)
    llm.on().reply("from the env")

    message = anthropic.Anthropic(api_key="x", max_retries=0).messages.create(**ask())

    assert message.content[0].text == "from the env"  # type: ignore[union-attr]
    [call] = llm.calls
    assert call.messages == ask()["messages"] and call.request["system"] == ask()["system"]


def test_llm_call_messages_are_the_messages() -> None:
    request = ask(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    call = LLMCall(
        id=1, arrived_at=0.0, finished_at=None, released_at=None, disconnected_at=None, held=False, token=None,
        fingerprint="f", model="m", rule_index=None, status=None, outcome="pending", stream=False,
        request=request, response=None, usage=None, api="anthropic",
    )

    assert call.messages == request["messages"]

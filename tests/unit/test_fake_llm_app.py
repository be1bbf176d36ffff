"""The fake LLM app: rule matching, answers, ledger, hold/release, streaming, and the real
OpenAI SDK against it served by uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI

from harness.fake_llm import (
    Failure,
    FakeLLM,
    Hang,
    Malformed,
    Match,
    Reply,
    Rule,
    create_app,
    tool_call,
)
from tests.unit.fake_llm_helpers import (
    TOKEN,
    body,
    calls,
    chat,
    put_rules,
    run_asgi,
    wait_until_held,
)

pytestmark = pytest.mark.anyio

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "BillingAgent",
            "description": "hand over to billing",
            "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}},
        },
    }
]


def text_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def sse_payloads(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"].startswith("text/event-stream")
    return [line[len("data: ") :] for line in response.text.split("\n\n") if line.startswith("data: ")]


# --- rules ---------------------------------------------------------------------------------


async def test_first_matching_rule_wins_until_its_times_run_out(client: httpx.AsyncClient) -> None:
    await put_rules(
        client,
        Rule(Reply("first"), Match(contains="hello"), times=1),
        Rule(Reply("second"), Match(contains="hello")),
    )

    answers = [text_of(await chat(client, text)) for text in ("hello", "hello there", "bye")]

    assert answers == ["first", "second", "OK."]
    assert [entry["rule_index"] for entry in await calls(client)] == [0, 1, None]
    rules = (await client.get("/_fake/rules")).json()
    assert [rule["hits"] for rule in rules] == [1, 1]


async def test_post_appends_a_rule_after_the_existing_ones(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("catch-all")))
    response = await client.post("/_fake/rules", json=Rule(Reply("never"), Match(contains="x")).to_json())

    assert response.status_code == 201
    assert response.json()["index"] == 1
    assert text_of(await chat(client, "x")) == "catch-all"


@pytest.mark.parametrize(
    ("match", "hit", "miss"),
    [
        (Match(contains="refund"), body("I want a refund"), body("hi")),
        (Match(system_contains="billing"), body("hi", system="You are billing."), body("billing", system="You are triage.")),
        (Match(model="gpt-4o-mini"), body() | {"model": "gpt-4o-mini"}, body()),
        (Match(has_tools=True), body(tools=TOOLS), body(tools=[])),
        (Match(has_tools=False), body(), body(tools=TOOLS)),
        (Match(token=TOKEN), body(f"question {TOKEN}"), body("question rrh-ffffffffffff")),
        (Match(contains="refund", model="gpt-4o"), body("refund"), body("refund") | {"model": "o3"}),
    ],
)
async def test_every_match_field_must_hold(
    client: httpx.AsyncClient, match: Match, hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    await put_rules(client, Rule(Reply("matched"), match))

    assert text_of(await client.post("/v1/chat/completions", json=hit)) == "matched"
    assert text_of(await client.post("/v1/chat/completions", json=miss)) == "OK."


async def test_contains_also_looks_into_text_parts(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("matched"), Match(contains="refund")))
    parts = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a refund"}]}]}

    assert text_of(await client.post("/v1/chat/completions", json=parts)) == "matched"


def test_rules_round_trip_through_json() -> None:
    rules = [
        Rule(Reply("hi"), Match(contains="a", token=TOKEN), times=2, hold=True, delay_s=0.5),
        Rule(tool_call("BillingAgent", {"reason": "refund"}), Match(has_tools=True)),
        Rule(Failure(429, retry_after=1.5, message="slow down"), Match(model="m"), first_token_delay_s=1),
        Rule(Malformed()),
        Rule(Hang(), times=None),
    ]

    assert [Rule.from_json(json.loads(json.dumps(rule.to_json()))) for rule in rules] == rules


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        ({"action": {"type": "reply", "content": "x"}, "matc": {}}, "unknown rule field"),
        ({"action": {"type": "explode"}}, "action type must be one of"),
        ({"action": {"type": "reply", "content": "x"}, "match": {"has_tools": "yes"}}, "wrong type"),
        ({"action": {"type": "error", "status": 200}}, "400-599"),
        ({"match": {}}, "needs an action"),
    ],
)
async def test_a_bad_rule_is_refused_with_a_reason(client: httpx.AsyncClient, rule: Any, complaint: str) -> None:
    response = await client.post("/_fake/rules", json=rule)

    assert response.status_code == 400
    assert complaint in response.json()["error"]
    assert (await client.get("/_fake/rules")).json() == []


# --- answers -------------------------------------------------------------------------------


async def test_tool_call_answer_has_the_openai_shape(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(tool_call("BillingAgent", {"reason": "refund"}), Match(has_tools=True)))

    response = await chat(client, "refund please", tools=TOOLS)

    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == "gpt-4o"
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert re.fullmatch(r"call_[0-9a-f]{12}", call["id"])  # from the request, not the arrival order
    assert call["type"] == "function"
    assert call["function"]["name"] == "BillingAgent"
    assert json.loads(call["function"]["arguments"]) == {"reason": "refund"}
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


async def test_error_answer_carries_retry_after_and_an_openai_error_body(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Failure(429, retry_after=2), times=1), Rule(Failure(503), times=1))

    limited = await chat(client)
    unavailable = await chat(client)

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert unavailable.status_code == 503
    assert "retry-after" not in unavailable.headers
    assert unavailable.json()["error"]["type"] == "server_error"
    entries = await calls(client)
    assert [(e["status"], e["outcome"]) for e in entries] == [(429, "error"), (503, "error")]
    assert entries[0]["response"] == limited.json()


async def test_malformed_answer_is_a_200_that_is_not_json(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Malformed()))

    response = await chat(client)

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    [entry] = await calls(client)
    assert (entry["outcome"], entry["status"], entry["response"]) == ("malformed", 200, None)


async def test_a_request_body_that_is_not_a_json_object_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", content=b"{nope")

    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]["message"]
    assert await calls(client) == []


async def test_delay_holds_back_the_answer(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("late"), delay_s=0.2))

    assert text_of(await chat(client)) == "late"

    [entry] = await calls(client)
    assert entry["finished_at"] - entry["arrived_at"] >= 0.2


async def test_health_and_models(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).status_code == 200
    models = (await client.get("/v1/models")).json()
    assert models["object"] == "list"
    assert "gpt-4o-mini" in [model["id"] for model in models["data"]]


# --- ledger --------------------------------------------------------------------------------


async def test_ledger_records_each_call_with_fingerprint_token_and_usage(client: httpx.AsyncClient) -> None:
    before = time.time()
    first = await chat(client, f"where is my refund? {TOKEN}", system="You are triage.")
    again = await chat(client, f"where is my refund? {TOKEN}", system="You are triage.")
    other = await chat(client, "something else")

    entries = await calls(client)

    assert [e["id"] for e in entries] == [1, 2, 3]
    assert entries[0]["fingerprint"] == entries[1]["fingerprint"] != entries[2]["fingerprint"]
    assert len(entries[0]["fingerprint"]) == 16
    assert [e["token"] for e in entries] == [TOKEN, TOKEN, None]
    first_entry = entries[0]
    assert before <= first_entry["arrived_at"] <= first_entry["finished_at"]
    assert first_entry["finished_at"] <= entries[1]["arrived_at"]
    assert first_entry["model"] == "gpt-4o"
    assert (first_entry["status"], first_entry["outcome"], first_entry["held"]) == (200, "ok", False)
    assert (first_entry["released_at"], first_entry["disconnected_at"], first_entry["rule_index"]) == (None, None, None)
    assert first_entry["stream"] is False
    assert first_entry["request"] == body(f"where is my refund? {TOKEN}", system="You are triage.")
    assert first_entry["response"] == first.json()
    assert first_entry["usage"] == first.json()["usage"]
    assert again.status_code == other.status_code == 200
    assert [e["id"] for e in await calls(client, token=TOKEN)] == [1, 2]
    assert (await client.get("/_fake/calls/3")).json()["id"] == 3
    assert (await client.get("/_fake/calls/4")).status_code == 404


async def test_token_is_found_in_tool_messages_and_tool_call_arguments() -> None:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
        messages = [
            {"role": "user", "content": "no token here"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": json.dumps({"t": TOKEN})}}
                ],
            },
        ]
        await http.post("/v1/chat/completions", json={"model": "m", "messages": messages})

        assert (await calls(http))[0]["token"] == TOKEN


async def test_the_token_pattern_is_configurable() -> None:
    transport = httpx.ASGITransport(app=create_app(token_pattern=r"corr-\d+"))
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
        await chat(http, f"ids: {TOKEN} corr-42")

        assert (await calls(http))[0]["token"] == "corr-42"


# --- hold, hang, release, reset --------------------------------------------------------------


async def test_held_call_answers_only_after_release(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("Refund issued."), Match(system_contains="billing"), hold=True))
    pending = asyncio.create_task(chat(client, "refund", system="You are billing."))

    await wait_until_held(client, 1)
    await asyncio.sleep(0.1)
    assert not pending.done()
    [held] = await calls(client)
    assert (held["outcome"], held["status"], held["finished_at"]) == ("pending", None, None)

    released = await client.post("/_fake/calls/1/release")
    assert released.status_code == 200
    assert text_of(await pending) == "Refund issued."

    [entry] = await calls(client)
    assert entry["held"] is False
    assert entry["released_at"] <= entry["finished_at"]
    assert entry["outcome"] == "ok"
    assert (await client.post("/_fake/calls/1/release")).status_code == 409
    assert (await client.post("/_fake/calls/9/release")).status_code == 404


async def test_hang_never_answers_until_release_all(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Hang()))
    pending = asyncio.create_task(chat(client))

    await wait_until_held(client, 1)
    await asyncio.sleep(0.1)
    assert not pending.done()

    released = await client.post("/_fake/release-all")
    assert released.json() == {"released": [1]}
    assert text_of(await pending) == "OK."


async def test_reset_releases_held_calls_and_forgets_rules_and_calls(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("held"), hold=True))
    pending = asyncio.create_task(chat(client))
    await wait_until_held(client, 1)

    reset = await client.post("/_fake/reset")

    assert reset.json() == {"released": [1]}
    assert text_of(await pending) == "held"
    assert await calls(client) == []
    assert (await client.get("/_fake/rules")).json() == []
    assert text_of(await chat(client)) == "OK."
    assert [e["id"] for e in await calls(client)] == [1]


# --- streaming -----------------------------------------------------------------------------


async def test_streamed_text_arrives_in_chunks_ending_with_done(client: httpx.AsyncClient) -> None:
    text = "Your refund of forty dollars has been issued today."
    await put_rules(client, Rule(Reply(text)))

    response = await chat(client, stream=True, stream_options={"include_usage": True})

    payloads = sse_payloads(response)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    with_choices = [c for c in chunks if c["choices"]]
    deltas = [c["choices"][0]["delta"] for c in with_choices]
    assert deltas[0]["role"] == "assistant"
    pieces = [d["content"] for d in deltas if d.get("content")]
    assert len(pieces) > 1
    assert "".join(pieces) == text
    assert with_choices[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    [entry] = await calls(client)
    assert entry["stream"] is True
    assert entry["outcome"] == "ok"
    assert entry["response"]["choices"][0]["message"]["content"] == text


async def test_streamed_tool_call_uses_indexed_argument_fragments(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(tool_call("BillingAgent", {"reason": "refund", "amount": 40})))

    response = await chat(client, tools=TOOLS, stream=True)

    payloads = sse_payloads(response)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(c["choices"] for c in chunks), "no usage chunk unless asked for"
    fragments = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls") or []]
    assert re.fullmatch(r"call_[0-9a-f]{12}", fragments[0]["id"])
    assert fragments[0]["function"]["name"] == "BillingAgent"
    assert {f["index"] for f in fragments} == {0}
    arguments = "".join(f["function"]["arguments"] for f in fragments)
    assert json.loads(arguments) == {"reason": "refund", "amount": 40}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


# --- delivery timing, straight through ASGI ----------------------------------------------------


async def test_finished_at_is_taken_after_the_last_byte_was_handed_over() -> None:
    app = create_app()
    handed_over: list[float] = []

    async def slow_send(message: dict[str, Any]) -> None:
        await asyncio.sleep(0.05)  # a slow socket
        if message["type"] == "http.response.body":
            handed_over.append(time.time())

    await run_asgi(app, body(), slow_send)

    [entry] = app.state.fake.ledger.entries()
    assert entry.finished_at >= handed_over[-1]
    assert entry.finished_at - entry.arrived_at >= 0.1


async def test_a_stream_cut_off_by_the_client_is_recorded_as_disconnected() -> None:
    app = create_app()
    app.state.fake.rules.add(Rule(Reply("never fully sent"), first_token_delay_s=5))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(run_asgi(app, body(stream=True), send, disconnect_after_s=0.1), timeout=2)

    [entry] = app.state.fake.ledger.entries()
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert (entry.status, entry.outcome, entry.finished_at) == (200, "disconnected", None)
    assert entry.disconnected_at is not None


async def test_a_client_that_leaves_during_a_delay_gets_no_answer() -> None:
    app = create_app()
    app.state.fake.rules.add(Rule(Reply("too late"), delay_s=5))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(run_asgi(app, body(), send, disconnect_after_s=0.1), timeout=2)

    [entry] = app.state.fake.ledger.entries()
    assert sent == []
    assert (entry.status, entry.outcome, entry.response) == (None, "disconnected", None)


# --- a real server ---------------------------------------------------------------------------


async def test_the_openai_sdk_gets_tool_calls_text_and_streams(llm: FakeLLM) -> None:
    llm.on(has_tools=True).reply(tool_call("BillingAgent", {"reason": "refund"}), times=1)
    llm.on(system_contains="billing").reply("Refund issued.")
    llm.on(contains="stream me").reply("one two three four five six")
    sdk = AsyncOpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
    question = [{"role": "user", "content": f"I want a refund {TOKEN}"}]

    routed = await sdk.chat.completions.create(model="gpt-4o", messages=question, tools=TOOLS)
    answered = await sdk.chat.completions.create(
        model="gpt-4o", messages=[{"role": "system", "content": "You are billing."}, *question]
    )
    stream = await sdk.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "stream me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    streamed = [chunk async for chunk in stream]
    await sdk.close()

    [call] = routed.choices[0].message.tool_calls
    assert routed.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == ("BillingAgent", {"reason": "refund"})
    assert answered.choices[0].message.content == "Refund issued."
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == "one two three four five six"
    assert streamed[-1].usage is not None and streamed[-1].usage.total_tokens > 0
    ledger = llm.calls
    assert [c.outcome for c in ledger] == ["ok", "ok", "ok"]
    assert [c.token for c in ledger] == [TOKEN, TOKEN, None]
    assert all(c.finished_at is not None and c.finished_at >= c.arrived_at for c in ledger)


async def test_the_openai_sdk_streams_a_tool_call(llm: FakeLLM) -> None:
    llm.on(has_tools=True).reply(tool_call("BillingAgent", {"reason": "a double charge"}))
    sdk = AsyncOpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)

    stream = await sdk.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], tools=TOOLS, stream=True
    )
    fragments = [tc for chunk in [c async for c in stream] for tc in chunk.choices[0].delta.tool_calls or []]
    await sdk.close()

    assert fragments[0].function.name == "BillingAgent"
    assert json.loads("".join(f.function.arguments or "" for f in fragments)) == {"reason": "a double charge"}


async def test_the_openai_sdk_retries_a_429_and_the_ledger_shows_the_repeat(llm: FakeLLM) -> None:
    llm.on(model="gpt-4o-mini").fail(429, retry_after=0, times=1)
    sdk = AsyncOpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=1)

    answer = await sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    await sdk.close()

    assert answer.choices[0].message.content == "OK."
    [group] = llm.calls.by_fingerprint().values()
    assert [(c.status, c.outcome) for c in group] == [(429, "error"), (200, "ok")]


def test_a_client_that_gives_up_on_a_hanging_call_is_recorded_as_disconnected(llm: FakeLLM) -> None:
    llm.on(contains="hang").hang()

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            llm.openai_base_url + "/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hang"}]},
            timeout=httpx.Timeout(5.0, read=0.3),
        )

    deadline = time.monotonic() + 5
    while (call := llm.calls.last).outcome != "disconnected" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert call.outcome == "disconnected"
    assert call.disconnected_at is not None and call.disconnected_at - call.arrived_at >= 0.3
    assert (call.held, call.status, call.finished_at, call.response) == (False, None, None, None)


def test_held_call_finishes_after_release_over_a_real_socket(llm: FakeLLM) -> None:
    llm.on(contains="hold me").hold().reply("released")
    result: dict[str, Any] = {}

    def ask() -> None:
        result["response"] = httpx.post(
            llm.openai_base_url + "/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hold me"}]},
            timeout=10,
        )

    asker = threading.Thread(target=ask)
    asker.start()
    held = llm.wait_for_call(1, held=True, timeout=5)
    time.sleep(0.1)
    assert "response" not in result
    llm.release(held)
    asker.join(timeout=5)

    assert result["response"].json()["choices"][0]["message"]["content"] == "released"
    call = llm.calls.last
    assert call.released_at is not None and call.finished_at is not None
    assert call.arrived_at < call.released_at <= call.finished_at

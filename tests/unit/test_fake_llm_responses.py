"""The fake LLM's OpenAI Responses API (`POST /v1/responses`): the same rules, ledger,
hold/release, fingerprints and correlation tokens as chat completions, answers in the
Responses shape (whole and streamed), and the real `openai` SDK against it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI

from harness.fake_llm import (
    Failure,
    FakeLLM,
    LLMCall,
    Match,
    Reply,
    Rule,
    create_app,
    tool_call,
)
from tests.unit.fake_llm_helpers import TOKEN, calls, put_rules, wait_until_held

pytestmark = pytest.mark.anyio

PRODUCT = "You are a product specialist. Help with features, plans and how-tos."
TOOLS = [
    {
        "type": "function",
        "name": "BillingAgent",
        "description": "hand over to billing",
        "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}},
    }
]


def ask(question: str = "hello", *, system: str | None = None, **extra: Any) -> dict[str, Any]:
    """A request as the Vercel AI SDK sends it: the system prompt as an input message, user text as parts."""
    items: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    items.append({"role": "user", "content": [{"type": "input_text", "text": question}]})
    return {"model": "gpt-4o-mini", "input": items} | extra


async def respond(http: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    return await http.post("/v1/responses", json=payload)


def output_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    [item] = response.json()["output"]
    assert item["type"] == "message"
    return "".join(part["text"] for part in item["content"] if part["type"] == "output_text")


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each server-sent event; checks the name matches the data's type."""
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        data = json.loads(lines["data"])
        assert lines["event"] == data["type"]
        events.append((lines["event"], data))
    return events


# --- answers ---------------------------------------------------------------------------------


async def test_text_answer_has_the_responses_shape(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("Use Settings > Export."), Match(system_contains="product specialist")))

    response = await respond(client, ask(f"How do I export? {TOKEN}", system=PRODUCT))

    assert output_text(response) == "Use Settings > Export."
    data = response.json()
    assert (data["object"], data["status"], data["model"], data["error"]) == ("response", "completed", "gpt-4o-mini", None)
    assert data["id"].startswith("resp_fake_")
    [item] = data["output"]
    assert (item["role"], item["status"]) == ("assistant", "completed") and item["id"] == "msg_fake_" + data["id"][10:]
    assert item["content"][0]["annotations"] == []
    usage = data["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert usage["input_tokens_details"] == {"cached_tokens": 0}


async def test_instructions_and_developer_messages_are_system_texts(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("as product"), Match(system_contains="product specialist")))

    by_instructions = await respond(client, {"model": "m", "instructions": PRODUCT, "input": "hi"})
    by_developer = await respond(client, {"model": "m", "input": [{"role": "developer", "content": PRODUCT}]})
    as_user_text = await respond(client, {"model": "m", "input": PRODUCT})

    assert [output_text(r) for r in (by_instructions, by_developer, as_user_text)] == ["as product", "as product", "OK."]


@pytest.mark.parametrize(
    ("match", "hit", "miss"),
    [
        (Match(contains="refund"), ask("I want a refund"), ask("hi")),
        (Match(contains="refund"), {"model": "m", "input": "a refund"}, {"model": "m", "input": "hi"}),
        (Match(model="gpt-4o-mini"), ask(), ask() | {"model": "gpt-4o"}),
        (Match(has_tools=True), ask(tools=TOOLS), ask(tools=[])),
        (Match(token=TOKEN), ask(f"question {TOKEN}"), ask("question rrh-ffffffffffff")),
    ],
)
async def test_rules_match_responses_requests_like_chat_requests(
    client: httpx.AsyncClient, match: Match, hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    await put_rules(client, Rule(Reply("matched"), match))

    assert output_text(await respond(client, hit)) == "matched"
    assert output_text(await respond(client, miss)) == "OK."


async def test_tool_call_is_a_function_call_output_item(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(tool_call("BillingAgent", {"reason": "refund"}), Match(has_tools=True)))

    response = await respond(client, ask("refund please", tools=TOOLS))

    assert response.status_code == 200
    [item] = response.json()["output"]
    answer_id = response.json()["id"].removeprefix("resp_fake_")
    assert item == {
        "type": "function_call",
        "id": f"fc_fake_{answer_id}",
        "call_id": f"call_{answer_id}",
        "name": "BillingAgent",
        "arguments": json.dumps({"reason": "refund"}),
        "status": "completed",
    }


async def test_an_error_rule_answers_responses_requests_too(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Failure(503, retry_after=1), Match(model="gpt-4o-mini"), times=1))

    failed = await respond(client, ask())
    answered = await respond(client, ask())

    assert (failed.status_code, failed.headers["retry-after"]) == (503, "1")
    assert failed.json()["error"]["type"] == "server_error"
    assert output_text(answered) == "OK."


# --- streaming -------------------------------------------------------------------------------


async def test_streamed_text_goes_from_created_to_completed(client: httpx.AsyncClient) -> None:
    text = "Open Settings, choose Data, then click Export."
    await put_rules(client, Rule(Reply(text)))

    response = await respond(client, ask(stream=True))

    events = sse_events(response)
    names = [name for name, _ in events]
    assert names[:4] == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    assert names[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    deltas = [data["delta"] for name, data in events if name == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == text
    [item_id] = {data["item_id"] for name, data in events if name == "response.output_text.delta"}
    assert item_id.startswith("msg_fake_")
    assert events[0][1]["response"]["status"] == "in_progress"
    completed = events[-1][1]["response"]
    assert completed["status"] == "completed" and completed["output"][0]["content"][0]["text"] == text
    assert "[DONE]" not in response.text
    [entry] = await calls(client)
    assert (entry["api"], entry["stream"], entry["outcome"]) == ("responses", True, "ok")
    assert entry["response"] == completed


async def test_streamed_tool_call_sends_argument_deltas(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(tool_call("BillingAgent", {"reason": "a double charge", "amount": 40})))

    events = sse_events(await respond(client, ask(tools=TOOLS, stream=True)))

    added = next(data for name, data in events if name == "response.output_item.added")
    answer_id = added["item"]["call_id"].removeprefix("call_")
    assert added["item"] | {"arguments": None} == {
        "type": "function_call", "id": f"fc_fake_{answer_id}", "call_id": f"call_{answer_id}", "name": "BillingAgent",
        "arguments": None, "status": "in_progress",
    }
    deltas = [data["delta"] for name, data in events if name == "response.function_call_arguments.delta"]
    assert len(deltas) > 1
    assert json.loads("".join(deltas)) == {"reason": "a double charge", "amount": 40}
    done = next(data for name, data in events if name == "response.output_item.done")
    assert done["item"]["status"] == "completed" and json.loads(done["item"]["arguments"])["amount"] == 40


# --- ledger, fingerprints, hold ----------------------------------------------------------------


async def test_ledger_records_responses_calls_with_token_and_fingerprint(client: httpx.AsyncClient) -> None:
    await respond(client, ask(f"export? {TOKEN}", system=PRODUCT))
    await respond(client, ask(f"export? {TOKEN}", system=PRODUCT, stream=True))
    await respond(client, ask(f"export? {TOKEN}", system="You are billing."))
    await respond(client, {"model": "gpt-4o-mini", "instructions": "other", "input": ask(f"export? {TOKEN}")["input"]})
    await respond(client, ask(f"export? {TOKEN}", system=PRODUCT, tools=TOOLS))
    await client.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": TOKEN}]})

    entries = await calls(client)

    assert [e["api"] for e in entries] == ["responses"] * 5 + ["chat"]
    assert [e["token"] for e in entries] == [TOKEN] * 6
    prints = [e["fingerprint"] for e in entries]
    assert prints[0] == prints[1], "stream or not, the same call has the same fingerprint"
    assert len(set(prints[1:])) == 5, "system prompt, instructions and tools all count"
    assert entries[0]["usage"]["input_tokens"] > 0
    assert entries[0]["request"] == ask(f"export? {TOKEN}", system=PRODUCT)


async def test_token_is_found_in_function_calls_and_their_outputs() -> None:
    for item in (
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": json.dumps({"t": TOKEN})},
        {"type": "function_call_output", "call_id": "c1", "output": f"done for {TOKEN}"},
    ):
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
            await respond(http, {"model": "m", "input": [{"role": "user", "content": "no token"}, item]})

            assert (await calls(http))[0]["token"] == TOKEN


async def test_held_responses_call_answers_only_after_release(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("held answer"), Match(system_contains="product"), hold=True))
    pending = asyncio.create_task(respond(client, ask(system=PRODUCT)))

    await wait_until_held(client, 1)
    await asyncio.sleep(0.1)
    assert not pending.done()
    assert (await client.post("/_fake/calls/1/release")).status_code == 200

    assert output_text(await pending) == "held answer"
    [entry] = await calls(client)
    assert entry["released_at"] <= entry["finished_at"]


def test_llm_call_messages_of_a_responses_call() -> None:
    def call(request: dict[str, Any]) -> LLMCall:
        return LLMCall(
            id=1, arrived_at=0.0, finished_at=None, released_at=None, disconnected_at=None, held=False, token=None,
            fingerprint="f", model="m", rule_index=None, status=None, outcome="pending", stream=False,
            request=request, response=None, usage=None, api="responses",
        )

    assert call({"input": "hi"}).messages == [{"role": "user", "content": "hi"}]
    assert call(ask("hi")).messages == ask("hi")["input"]


# --- the real openai SDK ------------------------------------------------------------------------


async def test_the_openai_sdk_uses_the_responses_api(llm: FakeLLM) -> None:
    llm.on(has_tools=True).reply(tool_call("BillingAgent", {"reason": "refund"}))
    llm.on(system_contains="product specialist").reply("one two three four five")
    sdk = AsyncOpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)

    text = await sdk.responses.create(model="gpt-4o-mini", instructions=PRODUCT, input=f"export? {TOKEN}")
    routed = await sdk.responses.create(model="gpt-4o-mini", input="refund", tools=TOOLS)  # type: ignore[arg-type]
    stream = await sdk.responses.create(model="gpt-4o-mini", instructions=PRODUCT, input="stream", stream=True)
    streamed = [event async for event in stream]
    await sdk.close()

    assert text.output_text == "one two three four five"
    [call] = routed.output
    assert (call.type, call.name, json.loads(call.arguments)) == ("function_call", "BillingAgent", {"reason": "refund"})  # type: ignore[union-attr]
    assert streamed[-1].type == "response.completed"
    assert "".join(e.delta for e in streamed if e.type == "response.output_text.delta") == "one two three four five"
    assert [(c.api, c.outcome, c.token) for c in llm.calls] == [
        ("responses", "ok", TOKEN), ("responses", "ok", None), ("responses", "ok", None)
    ]

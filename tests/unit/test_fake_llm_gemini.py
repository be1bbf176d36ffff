"""The fake LLM's Gemini endpoints (`POST /v1beta/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`): the same rules, auto mode, ledger and faults as the
OpenAI endpoints, answered in Google's shapes, and the real `google-genai` SDK against it."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from harness.fake_llm import FakeLLM, LLMCall, Match, Reply, Rule, tool_call
from harness.fake_llm.gemini import json_schema
from harness.fake_llm.instances import instance
from tests.unit.fake_llm_helpers import TOKEN, calls, put_rules, schema_errors, strings_in

pytestmark = pytest.mark.anyio

ROUTER = "You route customer questions to a specialist."
MODEL = "gemini-fake"
# Gemini's own schema dialect, as `types.Schema` sends it: UPPERCASE types, `nullable`.
REFUND = types.FunctionDeclaration(
    name="Refund",
    description="refund an order",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={
            "order_id": types.Schema(type=types.Type.STRING),
            "amount": types.Schema(type=types.Type.NUMBER, minimum=1),
            "lines": types.Schema(type=types.Type.ARRAY, items=types.Schema(type=types.Type.INTEGER), min_items=2),
            "note": types.Schema(type=types.Type.STRING, nullable=True),
            "urgent": types.Schema(type=types.Type.BOOLEAN),
        },
        required=["order_id", "amount", "lines"],
    ),
)
LOOKUP = types.FunctionDeclaration(
    name="Lookup",
    description="look an order up",
    parameters_json_schema={"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
)
TOOLS = [types.Tool(function_declarations=[REFUND, LOOKUP]), types.Tool(google_search=types.GoogleSearch())]
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)  # the test plays the agent's part itself


def sdk(llm: FakeLLM) -> genai.Client:
    options = types.HttpOptions(base_url=llm.base_url, retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="x", http_options=options)


@pytest.fixture
def google(llm: FakeLLM) -> genai.Client:
    """A google-genai client on the served fake (made once a test: making one takes ~0.1 s)."""
    return sdk(llm)


def config(**extra: Any) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(system_instruction=ROUTER, automatic_function_calling=NO_AFC, **extra)


# A client is kept in a name while it is used: a `genai.Client` closes its connections when collected.


def generate(
    client: genai.Client, contents: Any = f"refund order 7 {TOKEN}", **extra: Any
) -> types.GenerateContentResponse:
    return client.models.generate_content(model=MODEL, contents=contents, config=config(**extra))


def stream(
    client: genai.Client, contents: Any = f"refund order 7 {TOKEN}", **extra: Any
) -> list[types.GenerateContentResponse]:
    return list(client.models.generate_content_stream(model=MODEL, contents=contents, config=config(**extra)))


def ask(question: str = f"refund order 7 {TOKEN}", **extra: Any) -> dict[str, Any]:
    """A request body as the REST API takes it."""
    return {"contents": [{"role": "user", "parts": [{"text": question}]}],
            "systemInstruction": {"parts": [{"text": ROUTER}]}} | extra


# --- answers, whole and streamed -------------------------------------------------------------------


def test_a_text_answer_has_the_generate_content_shape(llm: FakeLLM, google: genai.Client) -> None:
    llm.on(system_contains="route customer", model=MODEL).reply("Use Settings > Export.")

    response = generate(google)

    assert response.text == "Use Settings > Export."
    [candidate] = response.candidates or []
    assert (candidate.finish_reason, candidate.index, candidate.content.role) == (  # type: ignore[union-attr]
        types.FinishReason.STOP, 0, "model")
    usage = response.usage_metadata
    assert usage is not None and usage.prompt_token_count and usage.candidates_token_count
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    assert response.model_version == MODEL and response.response_id.startswith("fake-")  # type: ignore[union-attr]
    [call] = llm.calls
    assert (call.api, call.model, call.token, call.outcome, call.status, call.stream) == (
        "gemini", MODEL, TOKEN, "ok", 200, False)
    assert call.usage == {"input_tokens": usage.prompt_token_count, "output_tokens": usage.candidates_token_count,
                          "total_tokens": usage.total_token_count}
    assert call.response["candidates"][0]["content"]["parts"] == [{"text": "Use Settings > Export."}]


def test_a_streamed_answer_comes_in_pieces_the_last_with_finish_reason_and_usage(
    llm: FakeLLM, google: genai.Client
) -> None:
    text = "Open Settings, choose Data, then click Export."
    llm.on().reply(text)

    chunks = stream(google)
    whole = generate(google)
    raw = httpx.post(llm.base_url + f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", json=ask())

    assert len(chunks) > 1 and "".join(chunk.text or "" for chunk in chunks) == text
    finish_reasons = [chunk.candidates[0].finish_reason for chunk in chunks]  # type: ignore[index]
    assert finish_reasons[-2:] == [None, types.FinishReason.STOP]
    assert chunks[-1].usage_metadata == whole.usage_metadata and chunks[0].usage_metadata is None
    assert {chunk.response_id for chunk in chunks} == {whole.response_id}
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = raw.text.split("\r\n\r\n")
    assert events[-1] == "" and all(event.startswith("data: {") for event in events[:-1])
    last = json.loads(events[-2].removeprefix("data: "))
    assert last["usageMetadata"] == whole.model_dump(by_alias=True, exclude_none=True)["usageMetadata"]
    assert [(c.stream, c.response["candidates"][0]["content"]["parts"][0]["text"]) for c in llm.calls] == [
        (True, text), (False, text), (True, text)]


def test_a_scripted_function_call_has_its_id_and_comes_whole(llm: FakeLLM, google: genai.Client) -> None:
    llm.on(has_tools=True).reply(tool_call("Refund", {"order_id": "order 7", "amount": 40}))

    whole = generate(google, tools=TOOLS)
    streamed = stream(google, tools=TOOLS)

    [call] = whole.function_calls or []
    assert (call.name, call.args) == ("Refund", {"order_id": "order 7", "amount": 40})
    assert call.id == "call_" + (whole.response_id or "").removeprefix("fake-")
    [chunk] = streamed
    assert chunk.function_calls == whole.function_calls
    assert chunk.candidates[0].finish_reason == types.FinishReason.STOP  # type: ignore[index]


async def test_the_v1_path_and_rules_on_texts_model_and_token(client: httpx.AsyncClient) -> None:
    await put_rules(
        client,
        Rule(Reply("by tool result"), Match(contains="refunded for")),
        Rule(Reply("by model"), Match(model="gemini-other")),
        Rule(Reply("by token"), Match(token=TOKEN)),
    )
    result = {"role": "user", "parts": [{"functionResponse": {"name": "Refund", "response": {"r": "refunded for 7"}}}]}

    answers = [
        (await client.post(path, json=payload)).json()["candidates"][0]["content"]["parts"][0]["text"]
        for path, payload in [
            (f"/v1/models/{MODEL}:generateContent", ask("hi") | {"contents": [result]}),
            ("/v1beta/models/gemini-other:generateContent", ask("no token here")),
            (f"/v1beta/models/{MODEL}:generateContent", ask(f"hi {TOKEN}")),
            (f"/v1beta/models/{MODEL}:generateContent", ask("no token here")),
        ]
    ]

    assert answers == ["by tool result", "by model", "by token", "OK."]
    assert {entry["api"] for entry in await calls(client)} == {"gemini"}


# --- the auto mode -----------------------------------------------------------------------------------


def test_auto_calls_a_declared_function_then_answers_in_text_after_its_response(
    llm: FakeLLM, google: genai.Client
) -> None:
    llm.on().auto()

    routed = generate(google, tools=TOOLS)
    again = generate(google, tools=TOOLS)
    [call] = routed.function_calls or []
    history = [
        types.Content(role="user", parts=[types.Part(text=f"refund order 7 {TOKEN}")]),
        routed.candidates[0].content,  # type: ignore[index]
        types.Content(role="user", parts=[types.Part.from_function_response(name=call.name or "", response={})]),
    ]
    answered = generate(google, history, tools=TOOLS)

    schemas = {"Refund": json_schema(REFUND.model_dump(by_alias=True, exclude_none=True)["parameters"]),
               "Lookup": LOOKUP.parameters_json_schema}
    assert call.name in schemas and schema_errors(call.args, schemas[call.name]) == []
    assert strings_in(call.args) and all(TOKEN in text for text in strings_in(call.args))
    assert again.function_calls == routed.function_calls, "the same request, the same call and id"
    assert not answered.function_calls and (answered.text or "").endswith(f"[{TOKEN}]")
    assert [c.token for c in llm.calls] == [TOKEN] * 3


def test_auto_through_the_sdks_automatic_function_calling(llm: FakeLLM, google: genai.Client) -> None:
    llm.on().auto()
    ran = []

    def refund(order_id: str, amount: float) -> str:
        """Refund an order."""
        ran.append((order_id, amount))
        return "refunded"

    response = google.models.generate_content(
        model=MODEL, contents=f"refund order 7 {TOKEN}", config=types.GenerateContentConfig(tools=[refund])
    )

    assert ran == [(f"order_id {TOKEN}", 1)]
    assert (response.text or "").endswith(f"[{TOKEN}]")
    assert [len(c.messages) for c in llm.calls] == [1, 3]


@pytest.mark.parametrize(
    ("mode", "names", "expected"),
    [("NONE", None, {None}), ("ANY", ["Lookup"], {"Lookup"}), ("ANY", None, {"Refund", "Lookup"})],
)
def test_auto_honours_the_function_calling_mode(
    llm: FakeLLM, google: genai.Client, mode: str, names: list[str] | None, expected: set[str | None]
) -> None:
    llm.on().auto()
    calling = types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode(mode), allowed_function_names=names)

    called = set()
    for n in range(8):
        tool_config = types.ToolConfig(function_calling_config=calling)
        answer = generate(google, f"ask {n} {TOKEN}", tools=TOOLS, tool_config=tool_config)
        called.add(answer.function_calls[0].name if answer.function_calls else None)

    assert called == expected


def test_gemini_schemas_are_normalized_to_json_schema() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "min_items": "2"},  # as google-genai sends it
            "note": {"type": "STRING", "nullable": True},
            "count": {"type": "INTEGER", "minimum": 3},
            "either": {"anyOf": [{"type": "BOOLEAN"}, {"type": "NUMBER"}]},
        },
        "required": ["tags"],
    }

    normal = json_schema(schema)

    assert normal == {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "note": {"type": ["string", "null"]},
            "count": {"type": "integer", "minimum": 3},
            "either": {"anyOf": [{"type": "boolean"}, {"type": "number"}]},
        },
        "required": ["tags"],
    }
    value = instance(normal, text=TOKEN)
    assert schema_errors(value, normal) == [] and len(value["tags"]) == 2 and value["count"] == 3


# --- faults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "name"),
    [
        (400, errors.ClientError, "INVALID_ARGUMENT"),
        (401, errors.ClientError, "UNAUTHENTICATED"),
        (403, errors.ClientError, "PERMISSION_DENIED"),
        (404, errors.ClientError, "NOT_FOUND"),
        (429, errors.ClientError, "RESOURCE_EXHAUSTED"),
        (500, errors.ServerError, "INTERNAL"),
        (503, errors.ServerError, "UNAVAILABLE"),
        (504, errors.ServerError, "DEADLINE_EXCEEDED"),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
def test_each_error_reaches_the_sdk_with_its_status(
    llm: FakeLLM, google: genai.Client, status: int, error: type[errors.APIError], name: str, streamed: bool
) -> None:
    llm.on().fail(status, retry_after=2, message=f"scripted {status}")

    with pytest.raises(error) as raised:
        stream(google) if streamed else generate(google)

    assert (raised.value.code, raised.value.status, raised.value.message) == (status, name, f"scripted {status}")
    assert raised.value.response.headers["retry-after"] == "2"
    assert [(c.outcome, c.status, c.api) for c in llm.calls] == [("error", status, "gemini")]


@pytest.mark.parametrize("streamed", [False, True])
def test_a_malformed_answer_raises_in_the_sdk(llm: FakeLLM, google: genai.Client, streamed: bool) -> None:
    llm.on().malformed()

    with pytest.raises(ValueError):  # JSONDecodeError whole, UnknownApiResponseError streamed
        stream(google) if streamed else generate(google)

    assert [(c.outcome, c.status) for c in llm.calls] == [("malformed", 200)]


@pytest.mark.parametrize("streamed", [False, True])
def test_a_cut_answer_raises_in_the_sdk(llm: FakeLLM, google: genai.Client, streamed: bool) -> None:
    llm.on().cut_stream(after_chunks=99)
    received = []

    with pytest.raises(httpx.RemoteProtocolError):
        if streamed:
            for chunk in google.models.generate_content_stream(model=MODEL, contents="hi", config=config()):
                received.append(chunk)
        else:
            generate(google)

    assert [(c.outcome, c.status) for c in llm.calls] == [("cut", 200)]
    if streamed:  # every chunk but the last, which carries the finish reason
        assert received and all(chunk.candidates[0].finish_reason is None for chunk in received)  # type: ignore[index]


def test_a_held_call_answers_on_release_and_a_delay_delays(llm: FakeLLM, google: genai.Client) -> None:
    llm.on(contains="held").hold().reply("released")
    llm.on().first_token_delay(0.3).reply("late")

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(generate, google, f"held {TOKEN}")
        held = llm.wait_for_call(1, held=True)
        time.sleep(0.1)
        assert not pending.done()
        llm.release(held)
        answer = pending.result(timeout=5)
    started = time.monotonic()
    late = stream(google)

    assert answer.text == "released"
    assert "".join(chunk.text or "" for chunk in late) == "late" and time.monotonic() - started >= 0.3


def test_a_forward_rule_answers_that_forwarding_is_for_openai_only(llm: FakeLLM, google: genai.Client) -> None:
    llm.on().forward()

    with pytest.raises(errors.ServerError) as raised:
        generate(google)

    assert (raised.value.code, raised.value.status) == (501, "NOT_IMPLEMENTED")
    assert "OpenAI protocols" in (raised.value.message or "")
    assert [(c.outcome, c.forwarded) for c in llm.calls] == [("error", False)]


async def test_an_unknown_method_is_not_found_in_googles_shape(client: httpx.AsyncClient) -> None:
    response = await client.post(f"/v1beta/models/{MODEL}:countTokens", json=ask())

    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND" and "countTokens" in response.json()["error"]["message"]
    assert await calls(client) == []


# --- the ledger ------------------------------------------------------------------------------------


async def test_fingerprints_group_one_call_streamed_or_not(client: httpx.AsyncClient) -> None:
    tools = [{"functionDeclarations": [{"name": "Refund", "parameters": {"type": "OBJECT"}}]}]
    for method, model, payload in [
        ("generateContent", MODEL, ask()),
        ("streamGenerateContent", MODEL, ask()),
        ("generateContent", MODEL, ask() | {"systemInstruction": {"parts": [{"text": "You are billing."}]}}),
        ("generateContent", MODEL, ask(tools=tools)),
        ("generateContent", "gemini-other", ask()),
    ]:
        await client.post(f"/v1beta/models/{model}:{method}?alt=sse", json=payload)

    entries = await calls(client)

    prints = [entry["fingerprint"] for entry in entries]
    assert prints[0] == prints[1] and len(set(prints[1:])) == 4
    assert [entry["stream"] for entry in entries] == [False, True, False, False, False]


def test_the_sdk_reads_google_gemini_base_url(llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", llm.base_url)
    llm.on().reply("from the env")
    options = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))

    client = genai.Client(api_key="x", http_options=options)
    response = client.models.generate_content(model=MODEL, contents="hi")

    assert response.text == "from the env"
    [call] = llm.calls
    assert call.messages == [{"role": "user", "parts": [{"text": "hi"}]}]


def test_llm_call_messages_are_the_contents() -> None:
    call = LLMCall(
        id=1, arrived_at=0.0, finished_at=None, released_at=None, disconnected_at=None, held=False, token=None,
        fingerprint="f", model="m", rule_index=None, status=None, outcome="pending", stream=False,
        request=ask("hi"), response=None, usage=None, api="gemini",
    )

    assert call.messages == ask("hi")["contents"]

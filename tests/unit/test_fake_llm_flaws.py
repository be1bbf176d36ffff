"""Bad answers (the value faults): each flaw in each protocol's shape, whole and streamed,
and what the providers' SDKs make of them."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import jsonschema
import openai
import pytest

from harness.fake_llm import BadAnswer, FakeLLM, Rule
from harness.fake_llm.flaws import REFUSAL, UNOFFERED_TOOL
from harness.fake_llm.rules import Failure
from tests.unit.fake_llm_helpers import TOKEN, put_rules

pytestmark = pytest.mark.anyio

REFUND = {"type": "object", "properties": {"order": {"type": "string"}, "cents": {"type": "integer", "minimum": 1}},
          "required": ["order", "cents"], "additionalProperties": False}
ANSWER = {"type": "object", "properties": {"verdict": {"type": "string", "enum": ["yes", "no"]},
                                           "why": {"type": "string"}}, "required": ["verdict", "why"]}
QUESTION = f"refund order 7 {TOKEN}"


def request(api: str, *, tools: bool = False, schema: bool = False, stream: bool = False) -> tuple[str, dict[str, Any]]:
    """(path, body) of one request in `api`'s spelling, offering the refund tool and/or asking for `ANSWER`."""
    if api == "chat":
        body: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": QUESTION}], "stream": stream}
        if tools:
            body["tools"] = [{"type": "function", "function": {"name": "refund", "parameters": REFUND}}]
        if schema:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "a", "schema": ANSWER}}
        return "/v1/chat/completions", body
    if api == "responses":
        body = {"model": "gpt-4o", "input": QUESTION, "stream": stream}
        if tools:
            body["tools"] = [{"type": "function", "name": "refund", "parameters": REFUND}]
        if schema:
            body["text"] = {"format": {"type": "json_schema", "name": "a", "schema": ANSWER}}
        return "/v1/responses", body
    if api == "anthropic":
        body = {"model": "claude", "max_tokens": 100, "messages": [{"role": "user", "content": QUESTION}],
                "stream": stream}
        if tools:
            body["tools"] = [{"name": "refund", "input_schema": REFUND}]
        if schema:
            body["output_config"] = {"format": {"type": "json_schema", "schema": ANSWER}}
        return "/v1/messages", body
    body = {"contents": [{"role": "user", "parts": [{"text": QUESTION}]}]}
    if tools:
        body["tools"] = [{"functionDeclarations": [{"name": "refund", "parametersJsonSchema": REFUND}]}]
    if schema:
        body["generationConfig"] = {"responseMimeType": "application/json", "responseJsonSchema": ANSWER}
    return f"/v1beta/models/gemini:{'streamGenerateContent' if stream else 'generateContent'}", body


def events(text: str) -> list[Any]:
    """The data of each server-sent event (`[DONE]` as the string)."""
    found = []
    for block in filter(str.strip, text.replace("\r\n", "\n").split("\n\n")):
        data = next(line[6:] for line in block.split("\n") if line.startswith("data: "))
        found.append(data if data == "[DONE]" else json.loads(data))
    return found


def outcome(api: str, response: httpx.Response, stream: bool) -> dict[str, Any]:
    """What the answer said, whatever its protocol: text, tool name and arguments (as sent), finish."""
    if not stream:
        return _whole(api, response.json())
    said: dict[str, Any] = {"text": "", "arguments": "", "tool": None, "finish": None, "terminated": False}
    for event in events(response.text):
        if event == "[DONE]":
            said["terminated"] = True
            continue
        if api == "chat":
            for choice in event["choices"]:
                delta = choice["delta"]
                said["text"] += delta.get("content") or delta.get("refusal") or ""
                for call in delta.get("tool_calls") or []:
                    said["tool"] = call["function"].get("name") or said["tool"]
                    said["arguments"] += call["function"].get("arguments") or ""
                said["finish"] = choice["finish_reason"] or said["finish"]
        elif api == "responses":
            if event["type"] in ("response.completed", "response.incomplete"):
                said |= {"terminated": True, **{k: v for k, v in _whole(api, event["response"]).items() if k == "finish"}}
            elif event["type"] in ("response.output_text.delta", "response.refusal.delta"):
                said["text"] += event["delta"]
            elif event["type"] == "response.function_call_arguments.delta":
                said["arguments"] += event["delta"]
            elif event["type"] == "response.output_item.added" and event["item"]["type"] == "function_call":
                said["tool"] = event["item"]["name"]
        elif api == "anthropic":
            if event["type"] == "content_block_start" and event["content_block"]["type"] == "tool_use":
                said["tool"] = event["content_block"]["name"]
            elif event["type"] == "content_block_delta":
                said["text"] += event["delta"].get("text", "")
                said["arguments"] += event["delta"].get("partial_json", "")
            elif event["type"] == "message_delta":
                said["finish"] = event["delta"]["stop_reason"]
            elif event["type"] == "message_stop":
                said["terminated"] = True
        else:
            whole = _whole(api, event)
            said["text"] += whole["text"]
            said["tool"], said["arguments"] = whole["tool"] or said["tool"], whole["arguments"] or said["arguments"]
            said["finish"] = whole["finish"] or said["finish"]
            said["terminated"] = said["terminated"] or whole["finish"] is not None
    return said


def _whole(api: str, body: dict[str, Any]) -> dict[str, Any]:
    said: dict[str, Any] = {"text": "", "arguments": "", "tool": None, "finish": None, "terminated": True}
    if api == "chat":
        choice = body["choices"][0]
        message = choice["message"]
        said["text"] = message.get("content") or message.get("refusal") or ""
        for call in message.get("tool_calls") or []:
            said["tool"], said["arguments"] = call["function"]["name"], call["function"]["arguments"]
        said["finish"] = choice["finish_reason"]
    elif api == "responses":
        for item in body["output"]:
            if item["type"] == "function_call":
                said["tool"], said["arguments"] = item["name"], item["arguments"]
            else:
                part = item["content"][0]
                said["text"] = part.get("text") or part.get("refusal") or ""
        said["finish"] = (body["incomplete_details"] or {}).get("reason", body["status"])
    elif api == "anthropic":
        for block in body["content"]:
            if block["type"] == "tool_use":
                said["tool"] = block["name"]
                said["arguments"] = block["input"] if isinstance(block["input"], str) else json.dumps(block["input"])
            else:
                said["text"] = block["text"]
        said["finish"] = body["stop_reason"]
    else:
        candidate = body["candidates"][0]
        for part in candidate.get("content", {}).get("parts", []):
            if "functionCall" in part:
                args = part["functionCall"]["args"]
                said["tool"] = part["functionCall"]["name"]
                said["arguments"] = args if isinstance(args, str) else json.dumps(args)
            else:
                said["text"] += part.get("text", "")
        said["finish"] = candidate.get("finishReason")
    return said


async def answer(client: httpx.AsyncClient, flaw: str, api: str, **shape: Any) -> dict[str, Any]:
    await put_rules(client, Rule(BadAnswer(flaw)))  # type: ignore[arg-type]
    path, body = request(api, **shape)
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    [call] = (await client.get("/_fake/calls")).json()[-1:]
    assert call["flaw"] == flaw
    return outcome(api, response, shape.get("stream", False))


APIS = ["chat", "responses", "anthropic", "gemini"]
LENGTH = {"chat": "length", "responses": "max_output_tokens", "anthropic": "max_tokens", "gemini": "MAX_TOKENS"}
REFUSED = {"chat": "content_filter", "responses": "completed", "anthropic": "refusal", "gemini": "SAFETY"}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", APIS)
async def test_an_empty_answer_has_no_content_and_finishes(client: httpx.AsyncClient, api: str, stream: bool) -> None:
    said = await answer(client, "empty", api, stream=stream)
    assert said["text"] == "" and said["tool"] is None and said["terminated"]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", APIS)
async def test_a_truncated_answer_is_half_of_it_cut_at_the_token_limit(client: httpx.AsyncClient, api: str,
                                                                       stream: bool) -> None:
    said = await answer(client, "truncated", api, schema=True, stream=stream)
    assert said["finish"] == LENGTH[api]
    with pytest.raises(ValueError):
        json.loads(said["text"])  # half a JSON object
    assert said["text"].startswith('{"verdict": "yes"')


@pytest.mark.parametrize("api", APIS)
async def test_a_refusal_is_the_providers_refusal(client: httpx.AsyncClient, api: str) -> None:
    said = await answer(client, "refusal", api)
    assert said["finish"] == REFUSED[api]
    assert said["text"] == ("" if api in ("chat", "gemini") else REFUSAL)  # content_filter and SAFETY: no content


async def test_a_refusal_to_structured_output_is_openais_refusal_field(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(BadAnswer("refusal")))
    path, body = request("chat", schema=True)
    message = (await client.post(path, json=body)).json()["choices"][0]["message"]
    assert message["content"] is None and message["refusal"] == REFUSAL


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", APIS)
async def test_bad_tool_arguments_are_not_json(client: httpx.AsyncClient, api: str, stream: bool) -> None:
    said = await answer(client, "bad_tool_args", api, tools=True, stream=stream)
    assert said["tool"] == "refund"
    with pytest.raises(ValueError):
        json.loads(said["arguments"])


@pytest.mark.parametrize("api", APIS)
async def test_a_schema_violation_is_json_the_tools_schema_refuses(client: httpx.AsyncClient, api: str) -> None:
    said = await answer(client, "schema_violation", api, tools=True)
    assert said["tool"] == "refund"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(said["arguments"]), REFUND)


@pytest.mark.parametrize("api", APIS)
async def test_a_schema_violation_breaks_the_output_schema(client: httpx.AsyncClient, api: str) -> None:
    said = await answer(client, "schema_violation", api, schema=True)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(said["text"]), ANSWER)


@pytest.mark.parametrize("api", APIS)
async def test_a_wrong_tool_is_one_the_request_did_not_offer(client: httpx.AsyncClient, api: str) -> None:
    said = await answer(client, "wrong_tool", api, tools=True)
    assert said["tool"] == UNOFFERED_TOOL and TOKEN in said["arguments"]


@pytest.mark.parametrize("api", APIS)
async def test_a_stream_that_ends_early_has_no_final_chunk_and_no_error(client: httpx.AsyncClient, api: str) -> None:
    said = await answer(client, "early_end", api, stream=True)
    assert said["text"] and not said["terminated"] and said["finish"] is None


@pytest.mark.parametrize("api", APIS)
async def test_a_whole_answer_that_ends_early_has_no_finish(client: httpx.AsyncClient, api: str) -> None:
    said = await answer(client, "early_end", api)
    assert said["text"]
    assert said["finish"] == ("incomplete" if api == "responses" else None)


# --- through the SDKs ----------------------------------------------------------------------------


def test_openai_sdk_reads_truncation_refusal_and_an_early_end(llm: FakeLLM) -> None:
    client = openai.OpenAI(api_key="x", base_url=llm.openai_base_url, max_retries=0)
    ask = {"model": "gpt-4o", "messages": [{"role": "user", "content": QUESTION}]}
    llm.add_rule(Rule(BadAnswer("truncated"), times=1))
    assert client.chat.completions.create(**ask).choices[0].finish_reason == "length"
    llm.add_rule(Rule(BadAnswer("refusal"), times=2))
    with pytest.raises(openai.ContentFilterFinishReasonError):
        client.chat.completions.parse(**ask)  # type: ignore[call-overload]
    parsed = client.chat.completions.parse(**ask, response_format={"type": "json_object"})  # type: ignore[call-overload]
    assert parsed.choices[0].message.refusal == REFUSAL
    llm.add_rule(Rule(BadAnswer("early_end"), times=1))
    chunks = list(client.chat.completions.create(**ask, stream=True))
    assert chunks and all(choice.finish_reason is None for chunk in chunks for choice in chunk.choices)


def test_anthropic_sdk_reads_the_stop_reasons(llm: FakeLLM) -> None:
    client = anthropic.Anthropic(api_key="x", base_url=llm.base_url, max_retries=0)
    ask = {"model": "claude", "max_tokens": 100, "messages": [{"role": "user", "content": QUESTION}]}
    llm.add_rule(Rule(BadAnswer("truncated"), times=1))
    assert client.messages.create(**ask).stop_reason == "max_tokens"  # type: ignore[call-overload]
    llm.add_rule(Rule(BadAnswer("refusal"), times=1))
    assert client.messages.create(**ask).stop_reason == "refusal"  # type: ignore[call-overload]


@pytest.mark.parametrize(("api", "status", "expected"), [
    ("chat", 400, "context_length_exceeded"), ("anthropic", 400, "prompt is too long"),
    ("gemini", 400, "exceeds the maximum number of tokens"), ("chat", 401, "invalid_api_key"),
    ("anthropic", 401, "authentication_error"), ("gemini", 401, "UNAUTHENTICATED"),
])
async def test_context_length_and_auth_errors_in_each_providers_words(client: httpx.AsyncClient, api: str,
                                                                      status: int, expected: str) -> None:
    code = "context_length_exceeded" if status == 400 else "invalid_api_key"
    await put_rules(client, Rule(Failure(status, code=code)))
    path, body = request(api)
    response = await client.post(path, json=body)
    assert response.status_code == status and expected in response.text

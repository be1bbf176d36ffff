"""Structured output: each protocol's way of asking for it, answered by the auto mode with a
schema-valid instance that carries the token, and read back by the providers' own SDKs."""

from __future__ import annotations

import enum
import json
from typing import Any, Literal

import anthropic
import jsonschema
import openai
import pytest
from google import genai
from google.genai import types
from pydantic import BaseModel, Field

from harness.fake_llm import FakeLLM, Rule
from harness.fake_llm.rules import Auto, Structured
from tests.unit.fake_llm_helpers import TOKEN, strings_in


class Severity(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Address(BaseModel):
    city: str
    postcode: str = Field(max_length=8)


class ClaimData(BaseModel):
    """Nested models ($defs, $ref), an enum, a Literal, a list and bounded numbers."""

    claimant: str
    amount: float = Field(ge=1, le=10_000)  # gt: google-genai refuses exclusiveMinimum
    currency: Literal["EUR", "USD"]
    severity: Severity
    items: list[str] = Field(min_length=1, max_length=3)
    nights: int = Field(ge=1, le=14)
    address: Address


@pytest.fixture
def auto(llm: FakeLLM) -> FakeLLM:
    llm.add_rule(Rule(Auto()))
    return llm


def check_claim(claim: ClaimData) -> None:
    assert any(TOKEN in text for text in strings_in(claim.model_dump(mode="json"))), claim


# --- OpenAI ------------------------------------------------------------------------------------


def openai_client(llm: FakeLLM) -> openai.OpenAI:
    return openai.OpenAI(api_key="x", base_url=llm.openai_base_url, max_retries=0)


@pytest.mark.parametrize("stream", [False, True])
def test_chat_json_schema_strict_parses_into_the_model_with_the_token(auto: FakeLLM, stream: bool) -> None:
    client = openai_client(auto)
    messages = [{"role": "user", "content": f"file my claim {TOKEN}"}]
    if stream:
        with client.chat.completions.stream(model="gpt-4o", messages=messages, response_format=ClaimData) as events:
            claim = events.get_final_completion().choices[0].message.parsed
    else:
        claim = client.chat.completions.parse(model="gpt-4o", messages=messages, response_format=ClaimData
                                              ).choices[0].message.parsed
    check_claim(claim)
    [call] = auto.calls
    assert call.output_format == "strict_json_schema"


def test_chat_json_object_answers_a_json_object(auto: FakeLLM) -> None:
    answer = openai_client(auto).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"as JSON please {TOKEN}"}],
        response_format={"type": "json_object"})
    data = json.loads(answer.choices[0].message.content)
    assert isinstance(data, dict) and TOKEN in json.dumps(data)
    assert auto.calls[0].output_format == "json_object"


def test_responses_text_format_parses_into_the_model(auto: FakeLLM) -> None:
    response = openai_client(auto).responses.parse(model="gpt-4o", input=f"file my claim {TOKEN}", text_format=ClaimData)
    check_claim(response.output_parsed)


def test_a_non_strict_schema_is_recorded_as_such(auto: FakeLLM) -> None:
    schema = ClaimData.model_json_schema()
    openai_client(auto).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"claim {TOKEN}"}],
        response_format={"type": "json_schema", "json_schema": {"name": "claim", "schema": schema}})
    [call] = auto.calls
    assert call.output_format == "json_schema"
    jsonschema.validate(json.loads(call.response["choices"][0]["message"]["content"]), schema)


def test_a_tool_call_comes_first_then_the_structured_answer(auto: FakeLLM) -> None:
    """An agent offering tools and asking for structured output (the OpenAI Agents SDK's way)."""
    client = openai_client(auto)
    tool = {"type": "function", "function": {"name": "lookup", "strict": True, "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"], "additionalProperties": False}}}
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"claim {TOKEN}"}]
    first = client.chat.completions.parse(model="gpt-4o", messages=messages, tools=[tool], response_format=ClaimData)
    call = first.choices[0].message.tool_calls[0]
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "found it"}]
    second = client.chat.completions.parse(model="gpt-4o", messages=messages, tools=[tool], response_format=ClaimData)
    check_claim(second.choices[0].message.parsed)
    assert auto.calls[0].strict_tools == ("lookup",)


# --- Anthropic ---------------------------------------------------------------------------------


def anthropic_client(llm: FakeLLM) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="x", base_url=llm.base_url, max_retries=0)


def test_anthropic_forced_tool_use_gets_schema_valid_input(auto: FakeLLM) -> None:
    schema = ClaimData.model_json_schema()
    message = anthropic_client(auto).messages.create(
        model="claude-fake", max_tokens=500, messages=[{"role": "user", "content": f"claim {TOKEN}"}],
        tools=[{"name": "record_claim", "input_schema": schema}], tool_choice={"type": "tool", "name": "record_claim"})
    [block] = message.content
    check_claim(ClaimData.model_validate(block.input))


def test_anthropic_output_config_answers_json_text(auto: FakeLLM) -> None:
    schema = ClaimData.model_json_schema()
    response = anthropic_client(auto).messages.create(
        model="claude-fake", max_tokens=500, messages=[{"role": "user", "content": f"claim {TOKEN}"}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}})
    check_claim(ClaimData.model_validate_json(response.content[0].text))
    assert auto.calls[0].output_format == "strict_json_schema"


# --- Gemini ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_response_schema_parses_into_the_model(auto: FakeLLM, stream: bool) -> None:
    client = genai.Client(api_key="x", http_options=types.HttpOptions(base_url=auto.base_url))
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=ClaimData)
    prompt = f"file my claim {TOKEN}"
    if stream:
        text = "".join(chunk.text or "" for chunk in client.models.generate_content_stream(
            model="gemini-2.5-flash", contents=prompt, config=config))
        claim = ClaimData.model_validate_json(text)
    else:
        claim = client.models.generate_content(model="gemini-2.5-flash", contents=prompt, config=config).parsed
    check_claim(claim)


def test_gemini_mime_type_alone_answers_a_json_object(auto: FakeLLM) -> None:
    client = genai.Client(api_key="x", http_options=types.HttpOptions(base_url=auto.base_url))
    response = client.models.generate_content(
        model="gemini-2.5-flash", contents=f"as JSON {TOKEN}",
        config=types.GenerateContentConfig(response_mime_type="application/json"))
    assert TOKEN in json.loads(response.text)["answer"]


# --- scripted ----------------------------------------------------------------------------------


def test_a_scripted_structured_answer_is_json_text_or_the_forced_tool(llm: FakeLLM) -> None:
    value = {"claimant": "Ada", "amount": 12.5}
    llm.add_rule(Rule(Structured(value)))
    text = openai_client(llm).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "claim"}], response_format={"type": "json_object"})
    assert json.loads(text.choices[0].message.content) == value
    forced = anthropic_client(llm).messages.create(
        model="claude-fake", max_tokens=100, messages=[{"role": "user", "content": "claim"}],
        tools=[{"name": "record", "input_schema": {"type": "object"}}], tool_choice={"type": "tool", "name": "record"})
    assert forced.content[0].input == value
    assert Rule.from_json(Rule(Structured(value)).to_json()) == Rule(Structured(value))

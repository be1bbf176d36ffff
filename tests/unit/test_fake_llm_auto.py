"""The auto mode: a fake LLM nobody scripted, answering like a plausible model (a tool call
with valid arguments, then text), deterministically, with the correlation token in every
answer; for chat completions and the Responses API, whole and streamed; and the real
OpenAI SDK against it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI, pydantic_function_tool
from pydantic import BaseModel, Field

from harness.fake_llm import Auto, FakeLLM, Match, Reply, Rule, create_app
from harness.fake_llm.__main__ import parse_args
from harness.fake_llm.reassemble import chat_completion, sse_data
from harness.fake_llm.rules import action_from_json, action_to_json
from tests.unit.fake_llm_helpers import (
    TOKEN,
    calls,
    put_rules,
    schema_errors,
    strings_in,
)
from tests.unit.served import serving

pytestmark = pytest.mark.anyio

OTHER_TOKEN = "rrh-fedcba987654"


class Refund(BaseModel):
    order_id: str
    amount: float = Field(gt=0)
    reason: str | None = None


class Lookup(BaseModel):
    query: str
    limit: int = Field(default=5, ge=1, le=10)


def chat_tool(model: type[BaseModel]) -> dict[str, Any]:
    return dict(pydantic_function_tool(model))


def responses_tool(model: type[BaseModel]) -> dict[str, Any]:
    function = pydantic_function_tool(model)["function"]
    return {"type": "function", "name": function["name"], "parameters": function["parameters"], "strict": True}


CHAT_TOOLS = [chat_tool(Refund), chat_tool(Lookup)]
SCHEMAS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in CHAT_TOOLS}
MODELS = {"Refund": Refund, "Lookup": Lookup}


def ask(content: str = f"refund order 7 {TOKEN}", *, tools: list[dict[str, Any]] | None = CHAT_TOOLS,
        history: list[dict[str, Any]] = (), **extra: Any) -> dict[str, Any]:  # type: ignore[assignment]
    messages = [{"role": "system", "content": "You route."}, {"role": "user", "content": content}, *history]
    return {"model": "gpt-4o", "messages": messages} | ({"tools": tools} if tools else {}) | extra


def tool_round(call_id: str = "call_1", name: str = "Refund") -> list[dict[str, Any]]:
    """An assistant tool call and its result, as an agent appends them."""
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}
    return [{"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "content": "done"}]


@pytest.fixture
async def auto_client() -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on a fresh fake LLM app in auto mode, straight through ASGI."""
    transport = httpx.ASGITransport(app=create_app(auto=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
        yield http


async def message(http: httpx.AsyncClient, payload: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/chat/completions", json=payload)
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]


def only_call(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [call] = message["tool_calls"]
    return call["function"]["name"], json.loads(call["function"]["arguments"])


# --- what it answers -----------------------------------------------------------------------------


async def test_offered_tools_it_calls_one_with_valid_arguments_carrying_the_token(
    auto_client: httpx.AsyncClient,
) -> None:
    name, arguments = only_call(await message(auto_client, ask()))

    assert name in SCHEMAS
    assert schema_errors(arguments, SCHEMAS[name]) == []
    MODELS[name].model_validate(arguments)
    assert strings_in(arguments) and all(TOKEN in text for text in strings_in(arguments))


async def test_the_same_request_gets_the_same_answer_streamed_or_not(auto_client: httpx.AsyncClient) -> None:
    first = await message(auto_client, ask())
    again = await message(auto_client, ask())
    text = await message(auto_client, ask(tools=None))
    streamed = await auto_client.post("/v1/chat/completions", json=ask(tools=None, stream=True))

    assert only_call(first) == only_call(again)
    assert text == await message(auto_client, ask(tools=None))
    assert chat_completion(sse_data(streamed.content) or [])["choices"][0]["message"]["content"] == text["content"]


async def test_without_tools_it_answers_a_short_text_with_the_token(auto_client: httpx.AsyncClient) -> None:
    answer = await message(auto_client, ask(tools=None))

    assert answer.get("tool_calls") is None
    assert answer["content"].startswith("Auto answer ") and answer["content"].endswith(f" [{TOKEN}]")


async def test_the_seed_and_the_request_pick_the_tool_among_those_offered() -> None:
    tools = [chat_tool(Refund), chat_tool(Lookup), {"type": "custom", "custom": {"name": "grep"}}]
    picked = set()
    for seed in range(12):
        transport = httpx.ASGITransport(app=create_app(auto=Auto(seed=seed)))
        async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
            picked.add(only_call(await message(http, ask(tools=tools)))[0])

    assert picked == {"Refund", "Lookup"}  # both get picked, the custom tool never


async def test_after_a_tool_result_it_answers_in_text(auto_client: httpx.AsyncClient) -> None:
    routed = await message(auto_client, ask())
    answered = await message(auto_client, ask(history=tool_round()))

    assert routed["tool_calls"] and answered.get("tool_calls") is None
    assert TOKEN in answered["content"]


async def test_tool_rounds_and_the_bound_on_required_tool_calls(client: httpx.AsyncClient) -> None:
    await put_rules(
        client,
        Rule(Auto(tool_rounds=2), Match(contains="twice")),
        Rule(Auto()),
    )

    async def answers(content: str, **extra: Any) -> list[str]:
        """Tool call or text, for conversations holding 0, 1, 2, ... tool results."""
        found = []
        for rounds in range(5):
            history = [m for n in range(rounds) for m in tool_round(f"call_{n}")]
            answer = await message(client, ask(content, history=history, **extra))
            found.append("tool" if answer.get("tool_calls") else "text")
        return found

    assert await answers("once") == ["tool", "text", "text", "text", "text"]
    assert await answers("twice") == ["tool", "tool", "text", "text", "text"]
    assert await answers("once", tool_choice="required") == ["tool", "tool", "tool", "text", "text"]


async def test_tool_choice_none_means_text_and_a_named_function_is_the_one_called(
    auto_client: httpx.AsyncClient,
) -> None:
    none = await message(auto_client, ask(tool_choice="none"))
    named = [
        only_call(await message(auto_client, ask(f"ask {n} {TOKEN}", tool_choice={"type": "function",
                                                                               "function": {"name": "Lookup"}})))[0]
        for n in range(6)
    ]

    assert none.get("tool_calls") is None and TOKEN in none["content"]
    assert set(named) == {"Lookup"}


async def test_a_schema_it_cannot_fill_gets_a_text_saying_why(auto_client: httpx.AsyncClient) -> None:
    broken = {"type": "function", "function": {"name": "Broken", "parameters": {"$ref": "#/$defs/Nowhere"}}}

    answer = await message(auto_client, ask(tools=[broken]))

    assert answer.get("tool_calls") is None
    assert "no arguments for tool 'Broken'" in answer["content"] and TOKEN in answer["content"]


async def test_a_streamed_tool_call_reassembles_into_a_valid_call(auto_client: httpx.AsyncClient) -> None:
    whole = await message(auto_client, ask())
    response = await auto_client.post("/v1/chat/completions", json=ask(stream=True))

    rebuilt = chat_completion(sse_data(response.content) or [])
    name, arguments = only_call(rebuilt["choices"][0]["message"])

    assert rebuilt["choices"][0]["finish_reason"] == "tool_calls"
    assert (name, arguments) == only_call(whole)
    MODELS[name].model_validate(arguments)


# --- the Responses API ---------------------------------------------------------------------------


def ask_responses(*, input: Any = f"refund order 7 {TOKEN}", **extra: Any) -> dict[str, Any]:
    tools = [{"type": "web_search_preview"}, responses_tool(Refund)]
    return {"model": "gpt-4o", "instructions": "You route.", "input": input, "tools": tools} | extra


async def test_a_responses_tool_call_has_the_function_call_shape(auto_client: httpx.AsyncClient) -> None:
    response = await auto_client.post("/v1/responses", json=ask_responses())

    [item] = response.json()["output"]
    assert (item["type"], item["name"]) == ("function_call", "Refund") and item["call_id"].startswith("call_")
    arguments = json.loads(item["arguments"])
    Refund.model_validate(arguments)
    assert all(TOKEN in text for text in strings_in(arguments))


async def test_a_responses_conversation_with_a_tool_output_gets_text(auto_client: httpx.AsyncClient) -> None:
    history = [
        {"role": "user", "content": f"refund order 7 {TOKEN}"},
        {"type": "function_call", "call_id": "call_1", "name": "Refund", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "done"},
    ]

    response = await auto_client.post("/v1/responses", json=ask_responses(input=history, stream=True))

    events = sse_data(response.content) or []
    [item] = events[-1]["response"]["output"]
    assert (events[-1]["type"], item["type"]) == ("response.completed", "message")
    assert item["content"][0]["text"].endswith(f"[{TOKEN}]")


async def test_allowed_tools_narrow_the_choice(auto_client: httpx.AsyncClient) -> None:
    tools = [responses_tool(Refund), responses_tool(Lookup)]
    choice = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "Lookup"}]}
    names = set()
    for n in range(6):
        payload = ask_responses(input=f"ask {n} {TOKEN}") | {"tools": tools, "tool_choice": choice}
        names.add((await auto_client.post("/v1/responses", json=payload)).json()["output"][0]["name"])

    assert names == {"Lookup"}


async def test_only_hosted_tools_mean_text(auto_client: httpx.AsyncClient) -> None:
    response = await auto_client.post("/v1/responses", json=ask_responses() | {"tools": [{"type": "web_search"}]})

    assert response.json()["output"][0]["type"] == "message"


# --- the correlation token -----------------------------------------------------------------------


async def test_a_tokenless_request_takes_the_one_token_in_flight(auto_client: httpx.AsyncClient) -> None:
    await message(auto_client, ask(tools=None))
    name, arguments = only_call(await message(auto_client, ask("summarise the previous answer")))

    entries = await calls(auto_client)

    assert all(TOKEN in text for text in strings_in(arguments))
    assert [(e["token"], e["token_inferred"]) for e in entries] == [(TOKEN, False), (TOKEN, True)]
    assert [e["id"] for e in await calls(auto_client, token=TOKEN)] == [1, 2]


async def test_with_two_tokens_in_flight_none_is_inferred(auto_client: httpx.AsyncClient) -> None:
    await message(auto_client, ask(tools=None))
    await message(auto_client, ask(f"another request {OTHER_TOKEN}", tools=None))
    answer = await message(auto_client, ask("summarise the previous answer", tools=None))

    entry = (await calls(auto_client))[-1]

    assert "rrh-" not in answer["content"] and answer["content"].startswith("Auto answer ")
    assert (entry["token"], entry["token_inferred"]) == (None, False)


async def test_a_token_older_than_a_minute_is_not_inferred() -> None:
    app = create_app(auto=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake") as http:
        await message(http, ask(tools=None))
        app.state.fake.ledger.get(1).arrived_at -= 61
        answer = await message(http, ask("no token here", tools=None))

    assert "rrh-" not in answer["content"]


async def test_scripted_mode_infers_nothing(client: httpx.AsyncClient) -> None:
    await message(client, ask(tools=None))
    await message(client, ask("no token here", tools=None))

    assert [(e["token"], e["token_inferred"]) for e in await calls(client)] == [(TOKEN, False), (None, False)]


# --- selecting it ----------------------------------------------------------------------------------


async def test_an_auto_rule_answers_what_it_matches_and_other_rules_still_win(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("scripted"), Match(contains="script")), Rule(Auto()))

    scripted = await message(client, ask(f"script {TOKEN}"))
    automatic = await message(client, ask())

    assert scripted["content"] == "scripted"
    assert automatic["tool_calls"]


def test_auto_round_trips_through_json_and_checks_its_bounds() -> None:
    action = Auto(seed=7, tool_rounds=2, max_tool_rounds=4)

    assert action_to_json(action) == {"type": "auto", "seed": 7, "tool_rounds": 2, "max_tool_rounds": 4}
    assert action_from_json(action_to_json(action)) == action
    assert action_from_json({"type": "auto"}) == Auto()
    with pytest.raises(ValueError, match="0 <= tool_rounds <= max_tool_rounds, got 4 and 3"):
        Auto(tool_rounds=4)
    with pytest.raises(ValueError, match="unknown auto action field"):
        action_from_json({"type": "auto", "sead": 1})


def test_the_auto_flag_and_its_seed() -> None:
    assert (parse_args(["--port", "1"]).auto, parse_args(["--port", "1"]).seed) == (False, 0)
    args = parse_args(["--port", "1", "--auto", "--seed", "9"])
    assert (args.auto, args.seed) == (True, 9)


# --- the real openai SDK against it, served by uvicorn ---------------------------------------------


@pytest.fixture(scope="module")
def auto_served() -> Iterator[FakeLLM]:
    with serving(create_app(auto=True)) as url, FakeLLM(url) as llm:
        yield llm


async def test_the_openai_sdk_parses_an_auto_tool_call_and_uses_the_responses_api(auto_served: FakeLLM) -> None:
    sdk = AsyncOpenAI(base_url=auto_served.openai_base_url, api_key="x", max_retries=0)
    user = {"role": "user", "content": f"refund order 7 {TOKEN}"}
    try:
        parsed = await sdk.chat.completions.parse(
            model="gpt-4o", messages=[user], tools=[pydantic_function_tool(Refund)]  # type: ignore[list-item]
        )
        routed = await sdk.responses.create(model="gpt-4o", input=user["content"], tools=[responses_tool(Refund)])  # type: ignore[list-item]
        answered = await sdk.responses.create(model="gpt-4o", input=f"hello {TOKEN}")
    finally:
        await sdk.close()

    [call] = parsed.choices[0].message.tool_calls or []
    refund = call.function.parsed_arguments  # type: ignore[union-attr]
    assert isinstance(refund, Refund) and TOKEN in refund.order_id
    [item] = routed.output
    assert item.type == "function_call" and Refund.model_validate_json(item.arguments)
    assert answered.output_text.endswith(f"[{TOKEN}]")


def test_requests_that_differ_only_in_their_token_get_the_same_answer_but_for_the_token() -> None:
    import re

    from harness.fake_llm.auto import answer
    from harness.fake_llm.chat import DEFAULT_TOKEN_PATTERN, ChatRequest
    from harness.fake_llm.rules import Auto

    def ask(token: str) -> str:
        body = {"model": "m", "messages": [{"role": "user", "content": f"refund please {token}"}]}
        reply = answer(Auto(), ChatRequest.parse(body, re.compile(DEFAULT_TOKEN_PATTERN)), token)
        return reply.content.replace(token, "{token}")  # type: ignore[union-attr]

    assert ask("rrh-000000000001") == ask("rrh-00000000abcd")


def test_a_preferred_tool_is_called_whenever_it_is_offered() -> None:
    import re

    from harness.fake_llm.auto import answer
    from harness.fake_llm.chat import DEFAULT_TOKEN_PATTERN, ChatRequest
    from harness.fake_llm.rules import Auto, Rule, ToolCall

    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
             for n in ("BillingAgent", "AccountAgent", "ProductAgent")]
    body = {"model": "m", "messages": [{"role": "user", "content": "help rrh-000000000001"}], "tools": tools}
    request = ChatRequest.parse(body, re.compile(DEFAULT_TOKEN_PATTERN))
    for name in ("BillingAgent", "AccountAgent", "ProductAgent"):
        reply = answer(Auto(prefer=name), request, "rrh-000000000001")
        assert isinstance(reply, ToolCall) and reply.name == name
    assert Rule.from_json(Rule(Auto(prefer="AccountAgent")).to_json()).action == Auto(prefer="AccountAgent")


async def test_answers_to_requests_that_differ_only_in_token_carry_the_same_ids(auto_client: httpx.AsyncClient) -> None:
    # An agent sends a tool call's id back in its next request: the same work must get the
    # same id in every run, or a retried conversation would differ from its baseline.
    first = (await auto_client.post("/v1/responses", json=ask_responses())).json()
    again = (await auto_client.post("/v1/responses", json=ask_responses())).json()
    assert first["output"][0]["call_id"] == again["output"][0]["call_id"]
    assert first["id"] == again["id"]

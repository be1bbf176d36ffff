"""Rule ids: every rule in the fake's rule book has one, so whoever added a rule (a fault)
can put it in front of the others and later remove exactly that rule, each in one request."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from harness.fake_llm import (
    Failure,
    FakeLLM,
    FakeLLMError,
    Match,
    Reply,
    Rule,
    ScriptedRule,
)
from tests.unit.fake_llm_helpers import calls, chat, put_rules

pytestmark = pytest.mark.anyio


def text_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


async def listed(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await http.get("/_fake/rules")
    assert response.status_code == 200, response.text
    return response.json()


async def add(http: httpx.AsyncClient, rule: Rule, **params: str) -> dict[str, Any]:
    response = await http.post("/_fake/rules", json=rule.to_json(), params=params)
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_listing_shows_each_rules_id_and_hits(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("a"), Match(contains="a")), Rule(Reply("b"), Match(contains="b")))
    added = await add(client, Rule(Reply("c")))
    await chat(client, "b")

    rules = await listed(client)

    assert added == {"id": "r3", "index": 2, "rule": Rule(Reply("c")).to_json()}
    assert [(rule["id"], rule["hits"]) for rule in rules] == [("r1", 0), ("r2", 1), ("r3", 0)]
    assert Rule.from_json(rules[2]) == Rule(Reply("c"))  # a listed rule, id and hits included, round-trips


async def test_ids_are_never_reused_not_even_after_a_reset_or_a_replace(client: httpx.AsyncClient) -> None:
    first = (await add(client, Rule(Reply("x"))))["id"]
    assert (await client.delete(f"/_fake/rules/{first}")).status_code == 200
    second = (await add(client, Rule(Reply("x"))))["id"]
    await client.post("/_fake/reset")
    third = (await add(client, Rule(Reply("x"))))["id"]
    await put_rules(client, Rule(Reply("x")))

    assert len({first, second, third, (await listed(client))[0]["id"]}) == 4


async def test_position_first_puts_the_rule_in_front_of_all_others(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("script"), Match(contains="hello")), Rule(Reply("catch-all")))
    fault = await add(client, Rule(Reply("fault"), Match(contains="hello"), times=1), position="first")
    last = await add(client, Rule(Reply("never")), position="last")

    answers = [text_of(await chat(client, "hello")) for _ in range(2)]

    assert (fault["index"], last["index"]) == (0, 3)
    assert [rule["id"] for rule in await listed(client)] == [fault["id"], "r1", "r2", last["id"]]
    assert answers == ["fault", "script"]
    assert [(entry["rule_index"], entry["rule_id"]) for entry in await calls(client)] == [(0, fault["id"]), (1, "r1")]


async def test_an_unknown_position_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/_fake/rules", json=Rule(Reply("x")).to_json(), params={"position": "top"})

    assert response.status_code == 400
    assert response.json() == {"error": "position must be 'first' or 'last' (the default), got 'top'"}


async def test_deleting_one_of_two_identical_rules_leaves_the_other_and_its_hits(client: httpx.AsyncClient) -> None:
    same = Rule(Failure(503), Match(contains="hello"), times=3)
    mine = (await add(client, same, position="first"))["id"]
    theirs = (await add(client, same))["id"]
    await chat(client, "hello")  # mine answers
    assert [rule["hits"] for rule in await listed(client)] == [1, 0]

    response = await client.delete(f"/_fake/rules/{mine}")
    await chat(client, "hello")  # now theirs answers
    rules = await listed(client)

    assert response.json()["hits"] == 1
    assert [(rule["id"], rule["hits"], Rule.from_json(rule)) for rule in rules] == [(theirs, 1, same)]


async def test_delete_answers_the_removed_rule_with_its_hits(client: httpx.AsyncClient) -> None:
    rule = Rule(Reply("hi"))
    rule_id = (await add(client, rule))["id"]
    await chat(client)

    response = await client.delete(f"/_fake/rules/{rule_id}")

    assert response.status_code == 200
    assert response.json() == {"id": rule_id} | rule.to_json() | {"hits": 1}
    assert text_of(await chat(client)) == "OK."


async def test_deleting_an_unknown_rule_is_a_404_that_names_the_rules_there_are(client: httpx.AsyncClient) -> None:
    await put_rules(client, Rule(Reply("a")), Rule(Reply("b")))

    response = await client.delete("/_fake/rules/r99")

    assert response.status_code == 404
    assert response.json() == {
        "error": "no rule with id 'r99' (removed already, or reset?); the current rule ids: r1, r2"
    }


def test_the_client_puts_a_fault_first_and_removes_it_against_the_real_server(llm: FakeLLM) -> None:
    script = llm.on(contains="refund").reply("Refunded.")
    fault = llm.on(contains="refund").first().fail(503, times=5)

    with httpx.Client(base_url=llm.openai_base_url) as http:
        ask = {"messages": [{"role": "user", "content": "refund"}]}
        statuses = [http.post("/chat/completions", json=ask).status_code]
        removed = llm.remove_rule(fault)
        statuses.append(http.post("/chat/completions", json=ask).status_code)

    assert statuses == [503, 200]
    assert removed == ScriptedRule(fault.id, Rule(Failure(503), Match(contains="refund"), times=5), hits=1)
    assert llm.rules == [replace(script, hits=1)]
    with pytest.raises(FakeLLMError, match=f"no rule with id '{fault.id}'"):
        llm.remove_rule(fault.id)


def test_a_rule_with_skip_lets_the_first_matches_fall_through() -> None:
    import re

    from harness.fake_llm.chat import DEFAULT_TOKEN_PATTERN, ChatRequest
    from harness.fake_llm.rules import Failure, Reply, Rule, RuleBook

    book = RuleBook()
    book.add(Rule(Failure(429), times=1, skip=2))
    request = ChatRequest.parse({"messages": [{"role": "user", "content": "hi"}]}, re.compile(DEFAULT_TOKEN_PATTERN))
    picked = [book.pick(request).rule.action for _ in range(4)]
    assert [type(a).__name__ for a in picked] == ["Reply", "Reply", "Failure", "Reply"]
    assert Rule.from_json(Rule(Reply("x"), skip=3).to_json()).skip == 3

"""The fake LLM's control client against respx mocks: the rule JSON it posts, how it reads
the ledger, and the messages it gives when things go wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import httpx
import pytest
import respx

from harness.fake_llm import (
    DEFAULT_CUT_TEXT,
    Failure,
    FakeLLM,
    FakeLLMError,
    LedgerEntry,
    LLMCall,
    Malformed,
    Match,
    Reply,
    Rule,
    RuleId,
    ScriptedRule,
    StreamCut,
    tool_call,
)

BASE = "http://127.0.0.1:9999"
ADDED = {"id": "r1", "index": 0, "rule": {}}  # what POST /_fake/rules answers (the rule is not read back)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM(BASE + "/") as client:
        yield client


def posted_rules(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


def entry(call_id: int, **overrides: Any) -> dict[str, Any]:
    """A ledger entry as the server serialises it."""
    data: dict[str, Any] = {
        "id": call_id,
        "arrived_at": 1000.0 + call_id,
        "finished_at": 1000.5 + call_id,
        "released_at": None,
        "disconnected_at": None,
        "held": False,
        "token": None,
        "fingerprint": "0123456789abcdef",
        "model": "gpt-4o",
        "rule_index": None,
        "status": 200,
        "outcome": "ok",
        "stream": False,
        "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        "response": None,
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        "api": "chat",
    }
    return data | overrides


def test_openai_base_url_appends_v1(llm: FakeLLM) -> None:
    assert llm.openai_base_url == BASE + "/v1"


# --- rules -----------------------------------------------------------------------------------


def test_reply_posts_the_rule_as_json(mock: respx.MockRouter, llm: FakeLLM) -> None:
    route = mock.post("/_fake/rules").respond(201, json=ADDED)

    added = llm.on(contains="weather", token="rrh-0123456789ab").reply("Sunny.")

    assert added == ScriptedRule(RuleId("r1"), Rule(Reply("Sunny."), Match("weather", token="rrh-0123456789ab")))
    assert posted_rules(route) == [
        {
            "match": {"contains": "weather", "token": "rrh-0123456789ab"},
            "action": {"type": "reply", "content": "Sunny."},
            "times": None,
            "hold": False,
            "delay_s": 0.0,
            "first_token_delay_s": 0.0,
        }
    ]
    assert Rule.from_json(posted_rules(route)[0]) == added.rule


def test_chained_options_and_a_tool_call(mock: respx.MockRouter, llm: FakeLLM) -> None:
    route = mock.post("/_fake/rules").respond(201, json=ADDED)

    llm.on(has_tools=True).hold().times(2).delay(0.5).first_token_delay(0.25).reply(
        tool_call("BillingAgent", {"reason": "refund"})
    )

    [rule] = posted_rules(route)
    assert rule["match"] == {"has_tools": True}
    assert rule["action"] == {"type": "tool_call", "name": "BillingAgent", "arguments": {"reason": "refund"}}
    assert (rule["hold"], rule["times"], rule["delay_s"], rule["first_token_delay_s"]) == (True, 2, 0.5, 0.25)


def test_fail_malformed_and_hang(mock: respx.MockRouter, llm: FakeLLM) -> None:
    route = mock.post("/_fake/rules").respond(201, json=ADDED)

    llm.on(model="gpt-4o-mini").fail(429, retry_after=1, times=2)
    llm.on(contains="x").malformed()
    llm.on(system_contains="slow").hang(times=1)

    fail, malformed, hang = posted_rules(route)
    assert fail["match"] == {"model": "gpt-4o-mini"}
    assert fail["action"] == {"type": "error", "status": 429, "retry_after": 1, "message": None}
    assert fail["times"] == 2
    assert malformed["action"] == {"type": "malformed"}
    assert (hang["match"], hang["action"], hang["times"]) == ({"system_contains": "slow"}, {"type": "hang"}, 1)


def test_cut_stream_and_server_errors(mock: respx.MockRouter, llm: FakeLLM) -> None:
    route = mock.post("/_fake/rules").respond(201, json=ADDED)

    llm.on(contains="export").first_token_delay(0.2).cut_stream(after_chunks=3, times=2)
    llm.on(model="gpt-4o-mini").cut_stream()
    llm.on(contains="refund").fail(503, retry_after=2.5, times=1)
    llm.on().fail(500, times=4)

    cut, default_cut, unavailable, broken = posted_rules(route)
    assert cut["match"] == {"contains": "export"}
    assert cut["action"] == {"type": "stream_cut", "after_chunks": 3, "content": DEFAULT_CUT_TEXT}
    assert (cut["times"], cut["first_token_delay_s"]) == (2, 0.2)
    assert (default_cut["action"]["after_chunks"], default_cut["times"]) == (2, None)
    assert unavailable["action"] == {"type": "error", "status": 503, "retry_after": 2.5, "message": None}
    assert unavailable["times"] == 1
    assert (broken["match"], broken["action"]["status"], broken["times"]) == ({}, 500, 4)
    assert Rule.from_json(cut).action == StreamCut(3)


def test_a_builder_can_be_reused_without_its_chains_leaking(mock: respx.MockRouter, llm: FakeLLM) -> None:
    route = mock.post("/_fake/rules").respond(201, json=ADDED)
    billing = llm.on(system_contains="billing")

    billing.hold().reply("held")
    billing.reply("not held")

    assert [rule["hold"] for rule in posted_rules(route)] == [True, False]


def test_replace_rules_and_read_them_back(mock: respx.MockRouter, llm: FakeLLM) -> None:
    rules = [Rule(tool_call("A", {"x": 1})), Rule(tool_call("B"))]
    listed = [{"id": "r7"} | rules[0].to_json() | {"hits": 3}, {"id": "r8"} | rules[1].to_json() | {"hits": 0}]
    put = mock.put("/_fake/rules").respond(200, json=listed)
    mock.get("/_fake/rules").respond(200, json=listed)

    assert llm.replace_rules(rules) == ["r7", "r8"]

    assert json.loads(put.calls.last.request.content) == [rule.to_json() for rule in rules]
    assert llm.rules == [ScriptedRule(RuleId("r7"), rules[0], hits=3), ScriptedRule(RuleId("r8"), rules[1])]
    assert [Rule.from_json(data) for data in listed] == rules  # a listed rule, id and hits included, round-trips


def test_add_a_rule_first_and_remove_it_by_id(mock: respx.MockRouter, llm: FakeLLM) -> None:
    post = mock.post("/_fake/rules").respond(201, json={"id": "r4", "index": 0, "rule": {}})
    fault = Rule(Failure(503), times=2)
    delete = mock.delete("/_fake/rules/r4").respond(200, json={"id": "r4"} | fault.to_json() | {"hits": 1})

    rule_id = llm.add_rule(fault, first=True)
    removed = llm.remove_rule(rule_id)

    assert rule_id == "r4"
    assert post.calls.last.request.url.params["position"] == "first"
    assert json.loads(post.calls.last.request.content) == fault.to_json()
    assert removed == ScriptedRule(RuleId("r4"), fault, hits=1)
    assert delete.call_count == 1


def test_a_builder_rule_can_go_first_and_a_listed_rule_can_be_removed(mock: respx.MockRouter, llm: FakeLLM) -> None:
    post = mock.post("/_fake/rules").respond(201, json=ADDED)
    mock.get("/_fake/rules").respond(200, json=[{"id": "r1"} | Rule(Malformed()).to_json() | {"hits": 0}])
    delete = mock.delete("/_fake/rules/r1").respond(200, json={"id": "r1"} | Rule(Malformed()).to_json())

    llm.on(has_tools=True).first().malformed(times=1)
    llm.on().reply("last")
    [listed] = llm.rules
    llm.remove_rule(listed)

    assert [call.request.url.params.get("position") for call in post.calls] == ["first", None]
    assert delete.called


def test_removing_an_unknown_rule_says_which_and_why(mock: respx.MockRouter, llm: FakeLLM) -> None:
    mock.delete("/_fake/rules/r9").respond(404, json={"error": "no rule with id 'r9' (removed already, or reset?)"})

    with pytest.raises(FakeLLMError, match=r"DELETE .*/_fake/rules/r9: expected HTTP 200, got 404.*no rule with id"):
        llm.remove_rule(RuleId("r9"))


def test_an_add_answer_without_an_id_is_refused(mock: respx.MockRouter, llm: FakeLLM) -> None:
    mock.post("/_fake/rules").respond(201, json={"index": 0})

    with pytest.raises(FakeLLMError, match=r"expected the new rule's id, got \{'index': 0\}"):
        llm.on().reply("x")


# --- calls -----------------------------------------------------------------------------------


def test_calls_are_parsed_into_llm_calls(mock: respx.MockRouter, llm: FakeLLM) -> None:
    mock.get("/_fake/calls").respond(
        200,
        json=[
            entry(1, token="rrh-aaaaaaaaaaaa", fingerprint="f1", status=429, outcome="error"),
            entry(2, token="rrh-aaaaaaaaaaaa", fingerprint="f1"),
            entry(3, token="rrh-bbbbbbbbbbbb", fingerprint="f2", held=True, outcome="pending", status=None),
            entry(4, fingerprint="f3", some_future_field=True),
            entry(5, fingerprint="f4", api="responses", outcome="cut", request={"model": "m", "input": "hi"}),
        ],
    )

    calls = llm.calls

    assert [call.id for call in calls] == [1, 2, 3, 4, 5]
    assert isinstance(calls.last, LLMCall) and calls.last.id == 5
    assert [call.id for call in calls.held] == [3]
    assert [call.id for call in calls.for_token("rrh-aaaaaaaaaaaa")] == [1, 2]
    groups = calls.by_fingerprint()
    assert list(groups) == ["f1", "f2", "f3", "f4"]
    assert [call.id for call in groups["f1"]] == [1, 2]
    assert calls[0].messages == [{"role": "user", "content": "hi"}]
    assert (calls[0].api, calls.last.api, calls.last.outcome) == ("chat", "responses", "cut")
    assert calls.last.messages == [{"role": "user", "content": "hi"}]
    with pytest.raises(AttributeError):
        calls[0].held = True  # type: ignore[misc]


def test_last_of_no_calls_says_so(mock: respx.MockRouter, llm: FakeLLM) -> None:
    mock.get("/_fake/calls").respond(200, json=[])

    with pytest.raises(IndexError, match="no calls"):
        llm.calls.last


def test_llm_call_knows_every_ledger_field() -> None:
    entry = LedgerEntry(id=1, arrived_at=0.0, token=None, fingerprint="f", model=None, stream=False, request_json="{}")
    ledger_fields = set(entry.to_json())

    assert {f.name for f in fields(LLMCall)} == ledger_fields


def test_wait_for_call_polls_until_the_call_is_held(mock: respx.MockRouter, llm: FakeLLM) -> None:
    route = mock.get("/_fake/calls").mock(
        side_effect=[
            httpx.Response(200, json=[]),
            httpx.Response(200, json=[entry(1), entry(2, outcome="pending", status=None)]),
            httpx.Response(200, json=[entry(1), entry(2, held=True, outcome="pending", status=None)]),
        ]
    )

    call = llm.wait_for_call(n=2, held=True, timeout=5, poll_s=0.001)

    assert (call.id, call.held) == (2, True)
    assert route.call_count == 3


def test_wait_for_call_with_a_token_counts_that_tokens_calls(mock: respx.MockRouter, llm: FakeLLM) -> None:
    route = mock.get("/_fake/calls", params={"token": "rrh-aaaaaaaaaaaa"}).respond(
        200, json=[entry(3, token="rrh-aaaaaaaaaaaa"), entry(7, token="rrh-aaaaaaaaaaaa")]
    )

    call = llm.wait_for_call(n=2, token="rrh-aaaaaaaaaaaa", timeout=1)

    assert call.id == 7
    assert route.called


def test_wait_for_call_timeout_says_what_it_waited_for_and_what_it_saw(mock: respx.MockRouter, llm: FakeLLM) -> None:
    mock.get("/_fake/calls").respond(200, json=[entry(1), entry(2, outcome="pending", status=None)])

    with pytest.raises(TimeoutError) as caught:
        llm.wait_for_call(n=2, held=True, timeout=0.1, poll_s=0.01)

    message = str(caught.value)
    assert "waiting for LLM call #2 to be held" in message
    assert "saw 2 call(s)" in message
    assert "#2 outcome=pending held=False" in message


def test_wait_for_call_timeout_with_no_calls(mock: respx.MockRouter, llm: FakeLLM) -> None:
    mock.get("/_fake/calls").respond(200, json=[])

    with pytest.raises(TimeoutError, match=r"LLM call #1 to arrive; saw no calls"):
        llm.wait_for_call(timeout=0.05, poll_s=0.01)


# --- release, reset, errors --------------------------------------------------------------------


def test_release_release_all_and_reset(mock: respx.MockRouter, llm: FakeLLM) -> None:
    release = mock.post("/_fake/calls/2/release").respond(200, json=entry(2, released_at=1003.0))
    release_all = mock.post("/_fake/release-all").respond(200, json={"released": [3, 4]})
    reset = mock.post("/_fake/reset").respond(200, json={"released": []})

    assert llm.release(2).released_at == 1003.0
    assert llm.release(LLMCall.from_json(entry(2))).id == 2
    assert llm.release_all() == [3, 4]
    llm.reset()

    assert (release.call_count, release_all.call_count, reset.call_count) == (2, 1, 1)


def test_a_control_error_says_what_was_expected_and_what_came(mock: respx.MockRouter, llm: FakeLLM) -> None:
    mock.post("/_fake/calls/1/release").respond(409, json={"error": "call 1 is not held (outcome: ok)"})

    with pytest.raises(FakeLLMError) as caught:
        llm.release(1)

    message = str(caught.value)
    assert f"POST {BASE}/_fake/calls/1/release" in message
    assert "expected HTTP 200, got 409" in message
    assert "call 1 is not held" in message


def test_a_refused_rule_raises(mock: respx.MockRouter, llm: FakeLLM) -> None:
    mock.post("/_fake/rules").respond(400, json={"error": "unknown rule field(s) ['matc']"})

    with pytest.raises(FakeLLMError, match=r"expected HTTP 201, got 400.*matc"):
        llm.on().reply("x")


def test_a_non_json_answer_raises(mock: respx.MockRouter, llm: FakeLLM) -> None:
    mock.post("/_fake/release-all").respond(200, text="<html>proxy error</html>")

    with pytest.raises(FakeLLMError, match="expected a JSON body"):
        llm.release_all()


def test_an_unreachable_fake_raises(mock: respx.MockRouter, llm: FakeLLM) -> None:
    mock.post("/_fake/reset").mock(side_effect=httpx.ConnectError("connection refused"))

    with pytest.raises(FakeLLMError, match="could not reach the fake LLM"):
        llm.reset()


def test_health(mock: respx.MockRouter, llm: FakeLLM) -> None:
    mock.get("/health").mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json={})])

    assert llm.is_healthy() is False
    llm.wait_until_healthy(timeout=1, poll_s=0.001)

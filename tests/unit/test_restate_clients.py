"""The admin and ingress clients against mocked HTTP (respx): what they send, and the one
clear message they give when Restate, or something that is not Restate, answers badly."""

from __future__ import annotations

import httpx
import pytest
import respx

from harness.env.restate.admin import RestateAdmin
from harness.env.restate.ingress import RestateIngress
from harness.errors import HarnessError

ADMIN = "http://127.0.0.1:9070"
INGRESS = "http://127.0.0.1:8080"


@respx.mock
def test_sql_rows_come_back_and_transient_errors_are_retried() -> None:
    route = respx.post(f"{ADMIN}/query").mock(
        side_effect=[
            httpx.Response(500, json={"message": "node N1:2 was shut down or removed"}),
            httpx.Response(200, json={"rows": [{"id": "inv_1", "status": "completed"}]}),
        ]
    )
    rows = RestateAdmin(ADMIN).query("SELECT id, status FROM sys_invocation")
    assert rows == [{"id": "inv_1", "status": "completed"}]
    assert route.call_count == 2
    assert route.calls.last.request.headers["accept"] == "application/json"


@respx.mock
def test_an_sql_error_says_what_failed() -> None:
    respx.post(f"{ADMIN}/query").mock(return_value=httpx.Response(400, json={"message": "No field named nope"}))
    with pytest.raises(HarnessError, match="HTTP 400.*No field named nope"):
        RestateAdmin(ADMIN).query("SELECT nope FROM sys_journal")


@respx.mock
def test_a_server_that_is_not_restate_is_named_as_such() -> None:
    respx.post(f"{ADMIN}/query").mock(return_value=httpx.Response(200, text="<html>hello</html>"))
    with pytest.raises(HarnessError, match="is not a Restate admin API"):
        RestateAdmin(ADMIN).query("SELECT 1")
    respx.post(f"{ADMIN}/deployments").mock(return_value=httpx.Response(404, text="not found"))
    with pytest.raises(HarnessError, match="is not a Restate admin API"):
        RestateAdmin(ADMIN).register("http://127.0.0.1:9999")


@respx.mock
def test_registration_forces_and_retries_until_the_deployment_answers() -> None:
    route = respx.post(f"{ADMIN}/deployments").mock(
        side_effect=[
            httpx.Response(500, json={"message": "error while discovering: connection refused"}),
            httpx.Response(201, json={"id": "dp_1", "services": [{"name": "AgentRouter"}]}),
        ]
    )
    registered = RestateAdmin(ADMIN).register("http://127.0.0.1:9999")
    assert registered.id == "dp_1" and registered.service_names == {"AgentRouter"}
    assert route.calls.last.request.content == b'{"uri":"http://127.0.0.1:9999","force":true}'


@respx.mock
def test_an_unreachable_deployment_ends_in_one_message() -> None:
    respx.post(f"{ADMIN}/deployments").mock(return_value=httpx.Response(500, json={"message": "connection refused"}))
    with pytest.raises(HarnessError, match="could not register http://127.0.0.1:9999 .*connection refused"):
        RestateAdmin(ADMIN).register("http://127.0.0.1:9999", timeout_s=0.5)


@respx.mock
def test_invocations_can_be_killed_and_cancelled() -> None:
    kill = respx.patch(f"{ADMIN}/invocations/inv_1/kill").mock(return_value=httpx.Response(202))
    cancel = respx.patch(f"{ADMIN}/invocations/inv_1/cancel").mock(return_value=httpx.Response(202))
    admin = RestateAdmin(ADMIN)
    admin.kill_invocation("inv_1")
    admin.cancel_invocation("inv_1")
    assert kill.called and cancel.called
    respx.patch(f"{ADMIN}/invocations/inv_2/kill").mock(return_value=httpx.Response(404, text="no such invocation"))
    with pytest.raises(HarnessError, match="kill inv_2 failed: HTTP 404"):
        admin.kill_invocation("inv_2")


@respx.mock
def test_outputs_are_decoded_from_the_journal_in_one_query() -> None:
    entry = '{"Command":{"Output":{"result":{"Success":[34,104,105,34]},"name":""}}}'
    route = respx.post(f"{ADMIN}/query").mock(
        return_value=httpx.Response(200, json={"rows": [{"id": "inv_1", "entry_json": entry}]})
    )
    assert RestateAdmin(ADMIN).outputs(["inv_1", "inv_2"]) == {"inv_1": "hi"}
    assert route.call_count == 1


@respx.mock
def test_send_carries_the_idempotency_key_and_returns_the_invocation() -> None:
    route = respx.post(f"{INGRESS}/AgentRouter/answer/send").mock(
        return_value=httpx.Response(202, json={"invocationId": "inv_9", "status": "Accepted"})
    )
    sent = RestateIngress(INGRESS).send("AgentRouter", "answer", "hello", idempotency_key="rrh-000000000001")
    assert sent.invocation_id == "inv_9"
    assert route.calls.last.request.headers["idempotency-key"] == "rrh-000000000001"


@respx.mock
def test_send_waits_for_a_just_registered_service_then_reports_a_refusal() -> None:
    respx.post(f"{INGRESS}/Nope/run/send").mock(return_value=httpx.Response(400, json={"message": "bad input"}))
    with pytest.raises(HarnessError, match="refused Nope/run: HTTP 400"):
        RestateIngress(INGRESS).send("Nope", "run", "x")

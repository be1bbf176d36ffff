"""The tool server in front of an agent's outside services: a stub, a recording proxy, an MCP
server, and the faults the harness puts on their calls. Served for real (uvicorn on loopback);
the MCP side is driven by the ``mcp`` SDK's own client, as Pydantic AI and the OpenAI Agents
SDK drive it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.errors import HarnessError
from harness.stubs.client import StubClient
from harness.stubs.mcp import load_tools
from harness.stubs.recording import create_app
from harness.stubs.rules import ToolRule
from harness.stubs.spec import Stub

from .served import serving

TOKEN = "rrh-0123456789ab"
PAY = {"name": "pay", "description": "Charge a card", "result": {"charged": True},
       "inputSchema": {"type": "object", "properties": {"order": {"type": "string"}, "cents": {"type": "integer"}},
                       "required": ["order", "cents"]}}


def _tools_file(tmp_path: Path, tools: Any) -> Path:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(tools))
    return path


async def _mcp_session(url: str, work: Any) -> Any:
    async with streamable_http_client(url) as streams:  # the URL handed to the agent is the endpoint
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            return await work(session)


def test_an_mcp_server_serves_declared_tools_and_records_each_call(tmp_path: Path) -> None:
    app = create_app("payments", kind="mcp", tools=load_tools(_tools_file(tmp_path, [PAY])))
    with serving(app) as url:
        async def work(session: ClientSession) -> Any:
            listed = await session.list_tools()
            first = await session.call_tool("pay", {"order": f"A-1 {TOKEN}", "cents": 1200})
            again = await session.call_tool("pay", {"order": f"A-1 {TOKEN}", "cents": 1200})
            return listed, first, again

        listed, first, again = asyncio.run(_mcp_session(url, work))
        assert [t.name for t in listed.tools] == ["pay"]
        assert first.is_error is False and first.structured_content == {"charged": True}
        assert again.structured_content == {"charged": True}
        calls = StubClient(Stub("payments", "PAY_URL", "mcp"), url).ledger()
    assert [(c.tool, c.protocol, c.token, c.outcome) for c in calls] == [("pay", "mcp", TOKEN, "ok")] * 2
    assert calls[0].arguments == {"order": f"A-1 {TOKEN}", "cents": 1200}
    # Two JSON-RPC requests (their ids differ) of the same tool with the same arguments: one call, repeated.
    assert calls[0].fingerprint == calls[1].fingerprint
    assert "pay(" in calls[0].describe() and "payments" in calls[0].describe()


def test_mcp_faults_come_as_a_json_rpc_error_or_a_tool_error_result(tmp_path: Path) -> None:
    app = create_app("payments", kind="mcp", tools=load_tools(_tools_file(tmp_path, {"tools": [PAY]})))
    with serving(app) as url:
        client = StubClient(Stub("payments", "PAY_URL", "mcp"), url)
        client.add_rule(ToolRule("error", mcp_error="jsonrpc", times=1))
        client.add_rule(ToolRule("error", mcp_error="result", skip=1, times=1))

        async def work(session: ClientSession) -> Any:
            outcomes = []
            for _ in range(3):
                try:
                    result = await session.call_tool("pay", {"order": "B-2", "cents": 5})
                    outcomes.append("tool error" if result.is_error else "ok")
                except Exception as exc:  # the SDK's McpError
                    outcomes.append(type(exc).__name__)
            return outcomes

        outcomes = asyncio.run(_mcp_session(url, work))
        calls = client.ledger()
    assert outcomes[0] not in ("ok", "tool error") and outcomes[1:] == ["tool error", "ok"]
    assert [c.fault for c in calls] == ["error", "error", None]


def _upstream() -> Starlette:
    async def charge(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"charged": body["cents"], "query": request.url.query,
                             "key": request.headers.get("idempotency-key")}, 201)

    return Starlette(routes=[Route("/v1/charges", charge, methods=["POST"])])


def test_a_proxy_relays_to_the_users_service_and_records_the_call() -> None:
    with serving(_upstream()) as upstream, serving(create_app("payments", kind="proxy", upstream=upstream)) as url:
        answer = httpx.post(f"{url}/v1/charges?currency=eur", json={"cents": 700, "note": TOKEN},
                            headers={"Idempotency-Key": "inv-1"})
        [call] = StubClient(Stub("payments", "PAY_URL", "proxy", upstream), url).ledger()
    assert answer.status_code == 201 and answer.json() == {"charged": 700, "query": "currency=eur", "key": "inv-1"}
    assert (call.tool, call.token, call.status, call.outcome) == ("POST /v1/charges", TOKEN, 201, "ok")


def test_a_proxy_whose_service_is_gone_answers_502_saying_so() -> None:
    with serving(_upstream()) as gone:
        pass
    with serving(create_app("payments", kind="proxy", upstream=gone)) as url:
        answer = httpx.post(f"{url}/v1/charges", json={"cents": 1})
    assert answer.status_code == 502 and "did not answer" in answer.json()["error"]


def test_http_errors_hold_hang_and_cut_each_do_what_they_say() -> None:
    with serving(create_app("refunds")) as url:
        client = StubClient(Stub("refunds", "REFUNDS_URL"), url)
        client.add_rule(ToolRule("error", status=429, retry_after_s=2, times=1))
        limited = httpx.post(f"{url}/refund", json={"order": 1})
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"

        hang = client.add_rule(ToolRule("hang", times=1))
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/refund", json={"order": 2}, timeout=0.5)
        client.remove_rule(hang)

        client.add_rule(ToolRule("hold", times=1))
        answers: list[int] = []
        sender = threading.Thread(target=lambda: answers.append(httpx.post(f"{url}/refund", json={"order": 3}).status_code))
        sender.start()
        deadline = time.monotonic() + 5
        while not any(c.held for c in client.ledger()):
            assert time.monotonic() < deadline, "the call was never held"
            time.sleep(0.02)
        held = next(c for c in client.ledger() if c.held)
        assert httpx.post(f"{url}/_stub/calls/{held.id}/release").status_code == 200
        sender.join(5)
        assert answers == [200]

        client.add_rule(ToolRule("cut", times=1))
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"{url}/refund", json={"order": 4})
        time.sleep(0.1)
        calls = client.ledger()
    assert [c.outcome for c in calls] == ["error", "disconnected", "ok", "cut"]


def test_a_slow_answer_comes_after_its_delay() -> None:
    with serving(create_app("refunds")) as url:
        StubClient(Stub("refunds", "REFUNDS_URL"), url).add_rule(ToolRule("slow", delay_s=0.4, times=1))
        started = time.monotonic()
        assert httpx.post(f"{url}/refund", json={}).status_code == 200
        assert time.monotonic() - started >= 0.4
        started = time.monotonic()
        httpx.post(f"{url}/refund", json={})
        assert time.monotonic() - started < 0.4


@pytest.mark.parametrize(("text", "said"), [
    ("payments=PAY_URL", "--proxy is NAME=ENV_VAR=URL"),
    ("payments=PAY_URL=ftp://x", "not an http(s) URL"),
    ("Payments=PAY_URL=http://127.0.0.1:1", "--proxy is NAME=ENV_VAR=URL"),
])
def test_a_bad_proxy_is_one_line(text: str, said: str) -> None:
    with pytest.raises(HarnessError, match=said.replace("(", r"\(").replace(")", r"\)")):
        Stub.parse_proxy(text)


@pytest.mark.parametrize(("content", "said"), [
    (None, "no such file"),
    ("{not json", "not JSON"),
    ("[]", "non-empty JSON list"),
    ('[{"description": "x"}]', 'needs a "name"'),
    ('[{"name": "a", "inputSchema": {"type": "string"}}]', "of type object"),
    ('[{"name": "a"}, {"name": "a"}]', "names must differ"),
])
def test_a_bad_tools_file_is_one_line(tmp_path: Path, content: str | None, said: str) -> None:
    path = tmp_path / "tools.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(HarnessError, match=said):
        Stub.parse_mcp("payments=PAY_URL", str(path))


def test_an_mcp_server_needs_a_url_or_tools_but_not_both(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="--mcp-tools"):
        Stub.parse_mcp("payments=PAY_URL", None)
    with pytest.raises(HarnessError, match="not both"):
        Stub.parse_mcp("payments=PAY_URL=http://127.0.0.1:9", str(_tools_file(tmp_path, [PAY])))


def test_an_unreachable_proxied_service_is_found_before_anything_starts() -> None:
    with serving(_upstream()) as gone:
        pass
    from harness.validate.agent import parse_agent_under_test  # the stub is a value: the validation probes it

    agent = parse_agent_under_test(["python -m my_agent --port {port}"], [], proxies=[f"payments=PAY_URL={gone}"])
    with pytest.raises(HarnessError, match=f"--proxy payments: nothing answers at {gone}"):
        agent.check_reachable()


def test_rules_aim_at_call_k_and_count_every_call() -> None:
    from harness.stubs.rules import ToolRules

    rules = ToolRules()
    rules.add(ToolRule("error", skip=2, times=1))
    rules.add(ToolRule("hold", tool="pay", times=None))
    picked = [rules.pick(tool) for tool in ("pay", "refund", "pay", "pay")]
    assert [r.action if r else None for r in picked] == ["hold", None, "error", "hold"]


def test_an_mcp_proxy_relays_to_the_users_mcp_server_and_records_its_tool_calls(tmp_path: Path) -> None:
    users = create_app("theirs", kind="mcp", tools=load_tools(_tools_file(tmp_path, [PAY])))
    with serving(users) as upstream, serving(create_app("payments", kind="mcp", upstream=f"{upstream}/mcp")) as url:
        # The user's server answers at /mcp; the agent is handed the proxy's root for it.
        async def work(session: ClientSession) -> Any:
            listed = await session.list_tools()
            return listed, await session.call_tool("pay", {"order": f"C-3 {TOKEN}", "cents": 99})

        listed, result = asyncio.run(_mcp_session(url, work))
        [call] = StubClient(Stub("payments", "PAY_URL", "mcp", upstream), url).ledger()
        [theirs] = StubClient(Stub("theirs", "X_URL", "mcp"), upstream).ledger()
    assert [t.name for t in listed.tools] == ["pay"] and result.structured_content == {"charged": True}
    assert (call.tool, call.protocol, call.token, call.outcome) == ("pay", "mcp", TOKEN, "ok")
    assert theirs.arguments == call.arguments and theirs.path == "/mcp"  # the user's server got the very call

"""Request builders and ledger helpers shared by the fake-LLM unit tests."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from harness.fake_llm import Rule

TOKEN = "rrh-0123456789ab"


def body(content: str = "hello", *, system: str | None = None, **extra: Any) -> dict[str, Any]:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
    return {"model": "gpt-4o", "messages": messages} | extra


async def chat(http: httpx.AsyncClient, content: str = "hello", **kwargs: Any) -> httpx.Response:
    return await http.post("/v1/chat/completions", json=body(content, **kwargs))


async def put_rules(http: httpx.AsyncClient, *rules: Rule) -> None:
    response = await http.put("/_fake/rules", json=[rule.to_json() for rule in rules])
    assert response.status_code == 200, response.text


async def calls(http: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await http.get("/_fake/calls", params=params)
    assert response.status_code == 200
    return response.json()


async def wait_until_held(http: httpx.AsyncClient, call_id: int) -> None:
    for _ in range(200):
        entries = await calls(http)
        if len(entries) >= call_id and entries[call_id - 1]["held"]:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"call {call_id} never became held: {entries}")


async def run_asgi(app: Any, payload: dict[str, Any], send: Any, *, disconnect_after_s: float | None = None) -> None:
    """Drive the app with one chat request; like uvicorn, `receive` reports the disconnect,
    once it has happened (`disconnect_after_s` after the start), to every later call."""
    request_sent = False
    started = time.monotonic()

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": json.dumps(payload).encode(), "more_body": False}
        if disconnect_after_s is None:
            await asyncio.Event().wait()
        remaining = started + disconnect_after_s - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    await app(scope, receive, send)

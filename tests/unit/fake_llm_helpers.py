"""Request builders and ledger helpers shared by the fake-LLM unit tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
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


def schema_errors(value: Any, schema: Any, root: Any = None, at: str = "$") -> list[str]:
    """Where `value` breaks `schema`: a small checker for the keywords tool schemas use (jsonschema is not a
    dependency). Written apart from the generator in `harness.fake_llm.instances`, to check it."""
    root = schema if root is None else root
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{at}: no value is allowed"]
    errors: list[str] = []
    if "$ref" in schema:
        target = root
        for step in schema["$ref"].removeprefix("#/").split("/"):
            target = target[step]
        errors += schema_errors(value, target, root, at)
    for part in schema.get("allOf", []):
        errors += schema_errors(value, part, root, at)
    if "anyOf" in schema and not any(not schema_errors(value, o, root, at) for o in schema["anyOf"]):
        errors.append(f"{at}: {value!r} matches none of anyOf")
    if "oneOf" in schema and sum(not schema_errors(value, o, root, at) for o in schema["oneOf"]) != 1:
        errors.append(f"{at}: {value!r} does not match exactly one of oneOf")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{at}: {value!r} is not the const {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: {value!r} is not one of {schema['enum']!r}")
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is(value, kind) for kind in kinds):
            return [*errors, f"{at}: {value!r} is not of type {kinds}"]
    if isinstance(value, dict):
        errors += [f"{at}: missing required {name!r}" for name in schema.get("required", []) if name not in value]
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                errors += schema_errors(item, properties[name], root, f"{at}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{at}: {name!r} is not an allowed property")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += schema_errors(item, schema["additionalProperties"], root, f"{at}.{name}")
    if isinstance(value, list):
        prefix = schema.get("prefixItems", [])
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else schema.get("items", True)
            errors += schema_errors(item, sub, root, f"{at}[{index}]")
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{at}: {len(value)} items, outside minItems/maxItems")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        bounds: list[tuple[str, Callable[[float], bool]]] = [
            ("minimum", lambda b: value >= b), ("maximum", lambda b: value <= b),
            ("exclusiveMinimum", lambda b: value > b), ("exclusiveMaximum", lambda b: value < b),
            ("multipleOf", lambda b: abs(value / b - round(value / b)) < 1e-9),
        ]
        broken = [key for key, holds in bounds if key in schema and not holds(schema[key])]
        errors += [f"{at}: {value!r} breaks {key} {schema[key]!r}" for key in broken]
    if isinstance(value, str) and not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
        errors.append(f"{at}: {value!r} has a length outside minLength/maxLength")
    return errors


def _is(value: Any, kind: str) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": number and float(value).is_integer(),
        "number": number,
        "boolean": isinstance(value, bool),
        "null": value is None,
    }[kind]


def strings_in(value: Any) -> list[str]:
    """Every string in a JSON value, keys aside."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings_in(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []

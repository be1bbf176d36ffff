"""The little of MCP (Model Context Protocol, streamable HTTP transport) a tool server needs:
JSON-RPC requests in, JSON answers out, tools declared in a JSON file.

Written here rather than on the ``mcp`` SDK's server because the harness must see and break
each HTTP request (record it, hold it, fail it, cut it) and relay raw messages to a user's
own MCP server; the SDK's server hides the request behind its session manager. The tests
drive it with the SDK's client, and Pydantic AI and the OpenAI Agents SDK use that client.

A tools file is a JSON list (or ``{"tools": [...]}``) of::

    {"name": "pay", "description": "...", "inputSchema": {...JSON Schema...}, "result": {...}}

``result`` is what every call answers (any JSON; default: an echo of the call).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

LATEST_PROTOCOL = "2025-06-18"
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32601, -32602, -32603


@dataclass(frozen=True)
class DeclaredTool:
    name: str
    description: str
    input_schema: dict[str, Any]
    result: Any = None  # None: an echo of the call

    def listing(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "inputSchema": self.input_schema}


def load_tools(path: Path | str) -> tuple[DeclaredTool, ...]:
    """The tools a ``--mcp-tools`` file declares; anything wrong is one HarnessError line."""
    where = f"--mcp-tools {path}"
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise HarnessError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{where}: cannot read it ({exc})") from None
    except ValueError as exc:
        raise HarnessError(f"{where}: not JSON ({exc})") from None
    items = data.get("tools") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise HarnessError(f"{where}: expected a non-empty JSON list of tools (or {{\"tools\": [...]}})")
    tools = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise HarnessError(f"{where}: tool {i} needs a \"name\" (a string)")
        schema = item.get("inputSchema", item.get("input_schema", {"type": "object", "properties": {}}))
        if not isinstance(schema, dict) or schema.get("type", "object") != "object":
            raise HarnessError(f"{where}: tool {item['name']!r}: \"inputSchema\" must be a JSON Schema of type object")
        tools.append(DeclaredTool(item["name"], str(item.get("description", "")), {"type": "object", **schema},
                                  item.get("result")))
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise HarnessError(f"{where}: tool names must differ")
    return tuple(tools)


@dataclass(frozen=True)
class Message:
    """One JSON-RPC message of a POST: a request (with ``id``) or a notification."""

    method: str
    id: Any = None
    params: Any = None

    @property
    def is_request(self) -> bool:
        return self.id is not None

    @property
    def tool(self) -> str | None:
        """The tool a ``tools/call`` calls."""
        if self.method != "tools/call" or not isinstance(self.params, dict):
            return None
        name = self.params.get("name")
        return name if isinstance(name, str) else None

    @property
    def arguments(self) -> dict[str, Any]:
        args = self.params.get("arguments") if isinstance(self.params, dict) else None
        return args if isinstance(args, dict) else {}


def parse_messages(body: bytes) -> list[Message] | None:
    """The JSON-RPC messages of a POST body (one, or a batch); None if it is not JSON-RPC.
    Responses a client sends back (to a server's request) carry no method and are skipped."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    return [Message(item["method"], item.get("id"), item.get("params")) for item in items
            if isinstance(item.get("method"), str)]


def call_fingerprint(tool: str, arguments: dict[str, Any]) -> str:
    """The same tool with the same arguments is the same call, whatever its JSON-RPC id."""
    canonical = json.dumps({"tool": tool, "arguments": arguments}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def success(message: Message, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message.id, "result": result}


def failure(message_id: Any, code: int, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": text}}


def tool_result(value: Any, *, is_error: bool = False) -> dict[str, Any]:
    """A ``tools/call`` result: the value as text, and as structured content when it is an object."""
    result: dict[str, Any] = {"content": [{"type": "text", "text": value if isinstance(value, str) else json.dumps(value)}],
                              "isError": is_error}
    if isinstance(value, dict) and not is_error:
        result["structuredContent"] = value
    return result


@dataclass(frozen=True)
class ToolServer:
    """Answers MCP requests from declared tools (``--mcp-tools``), or with an echo of each call."""

    service: str
    tools: tuple[DeclaredTool, ...] = ()

    def answer(self, message: Message, answer_id: str) -> dict[str, Any]:
        method = message.method
        if method == "initialize":
            asked = message.params.get("protocolVersion") if isinstance(message.params, dict) else None
            return success(message, {
                "protocolVersion": asked if isinstance(asked, str) else LATEST_PROTOCOL,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": f"restate-resilience {self.service}", "version": "1"},
            })
        if method == "ping":
            return success(message, {})
        if method == "tools/list":
            listed = [t.listing() for t in self.tools] if self.tools else []
            return success(message, {"tools": listed})
        if method == "tools/call":
            name = message.tool
            declared = {t.name: t for t in self.tools}
            if name is None or (self.tools and name not in declared):
                return failure(message.id, INVALID_PARAMS, f"unknown tool {name!r}")
            value = declared[name].result if name in declared else None
            if value is None:
                value = {"id": answer_id, "ok": True, "tool": name, "arguments": message.arguments}
            return success(message, tool_result(value))
        return failure(message.id, METHOD_NOT_FOUND, f"method {method!r} is not served here")


def new_session_id() -> str:
    return secrets.token_hex(16)

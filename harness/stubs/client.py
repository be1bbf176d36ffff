"""A running stub, proxy or MCP server, as the harness reads and scripts it."""

from __future__ import annotations

import json
from typing import Any

import httpx

from harness.errors import HarnessError
from harness.history import StubCall
from harness.stubs.rules import ToolRule
from harness.stubs.spec import Stub


class StubClient:
    def __init__(self, stub: Stub, base_url: str) -> None:
        self.stub, self.base_url = stub, base_url.rstrip("/")

    @property
    def name(self) -> str:
        return self.stub.name

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = httpx.request(method, f"{self.base_url}/_stub/{path}", timeout=5, **kwargs)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise HarnessError(f"the {self.name} stub at {self.base_url} did not answer {method} {path}: {exc}") from None

    def ledger(self) -> list[StubCall]:
        """The calls it received, in arrival order."""
        return [StubCall.from_json(row) for row in self._call("GET", "ledger")]

    def reset(self) -> None:
        """Forget every call and rule (a reused environment's next scenario starts from none)."""
        self._call("POST", "reset")

    def add_rule(self, rule: ToolRule) -> str:
        """Put a fault on the next tool calls; returns its id, for ``remove_rule``."""
        return str(self._call("POST", "rules", json=rule.to_json())["id"])

    def remove_rule(self, rule_id: str) -> None:
        self._call("DELETE", f"rules/{rule_id}")

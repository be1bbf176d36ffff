"""Restate's admin API: deployments, SQL introspection as typed rows, invocation control."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from harness.errors import HarnessError
from harness.history import Invocation, JournalEntry


@dataclass(frozen=True)
class Handler:
    name: str
    kind: str | None = None  # "Exclusive", "Shared", "Workflow"; None for a Service's handlers
    input_schema: Any = None  # the JSON schema the SDK published for the input, if any


@dataclass(frozen=True)
class Service:
    name: str
    kind: str  # "Service", "VirtualObject" or "Workflow"
    handlers: tuple[Handler, ...] = ()


@dataclass(frozen=True)
class Deployment:
    """What registering a deployment told us: its id and the services it offers."""

    id: str
    services: tuple[Service, ...]

    @classmethod
    def from_json(cls, data: Any) -> "Deployment":
        services = []
        for item in data.get("services", []) if isinstance(data, dict) else []:
            handlers = tuple(
                Handler(h.get("name", ""), h.get("ty"), (h.get("input_json_schema") or h.get("input_schema")))
                for h in item.get("handlers", [])
                if isinstance(h, dict)
            )
            services.append(Service(item.get("name", ""), item.get("ty", "Service"), handlers))
        return cls(str(data.get("id", "")) if isinstance(data, dict) else "", tuple(services))

    @property
    def service_names(self) -> set[str]:
        return {s.name for s in self.services}


class RestateAdmin:
    """The admin API: deployments, SQL introspection, invocation control."""

    def __init__(self, admin_url: str, *, timeout_s: float = 10.0) -> None:
        self.url = admin_url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def register(self, deployment_uri: str, *, timeout_s: float = 20.0) -> Deployment:
        """Register (or force re-register) a deployment. Retries while the server is still
        warming up or the deployment is still starting."""
        deadline = time.monotonic() + timeout_s
        last = ""
        body: dict[str, Any] = {"uri": deployment_uri, "force": True}
        while time.monotonic() < deadline:
            try:
                response = self._http.post("/deployments", json=body)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code in (200, 201):
                    return Deployment.from_json(response.json())
                last = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code == 404:
                    raise HarnessError(f"{self.url} is not a Restate admin API (404 on /deployments)")
                if "META0014" in response.text:  # the deployment answered in HTTP/1.1: discover it so
                    body["use_http_11"] = True
                elif "got status code '4" in response.text:  # an HTTP server answered that is no Restate endpoint
                    break
            time.sleep(0.2)
        raise HarnessError(f"could not register {deployment_uri} with Restate at {self.url}: {last}")

    def query(self, sql: str, *, settle_s: float = 10.0) -> list[dict[str, Any]]:
        """Run SQL introspection. Null columns are absent from a row, so read with ``.get``.

        400 is a real SQL error. 429/503, and 500s from the query engine, are transient
        right after a (re)start ("node ... was shut down"), so they are retried for ``settle_s``."""
        deadline = time.monotonic() + settle_s
        while True:
            try:
                response = self._http.post("/query", json={"query": sql}, headers={"accept": "application/json"})
            except httpx.HTTPError as exc:
                raise HarnessError(f"Restate admin API at {self.url} unreachable: {exc}") from None
            if response.status_code == 200:
                try:
                    return list(response.json()["rows"])
                except (ValueError, KeyError):
                    raise HarnessError(f"{self.url} is not a Restate admin API (no rows in /query)") from None
            transient = response.status_code in (429, 500, 503)
            if not transient or time.monotonic() > deadline:
                raise HarnessError(f"SQL failed with HTTP {response.status_code}: {response.text[:500]}\n{sql}")
            time.sleep(min(float(response.headers.get("retry-after", "0.1")), 1.0))

    def invocations(self, ids: Sequence[str] | None = None) -> list[Invocation]:
        """``sys_invocation`` rows of ``ids`` (all when None), typed."""
        if ids is not None and not ids:
            return []
        return [Invocation.from_row(r) for r in self.query(_select("sys_invocation", ids))]

    def journal(self, ids: Sequence[str] | None = None) -> list[JournalEntry]:
        """``sys_journal`` entries of ``ids``, typed, in journal order per invocation."""
        if ids is not None and not ids:
            return []
        # The full entry only for step results: their values tie results to calls. Other
        # entries' full form (inputs with headers, outputs) is not needed and can be large.
        columns = ("id, index, entry_type, name, appended_at, entry_lite_json, "
                   "CASE WHEN entry_type = 'Notification: Run' THEN entry_json END AS entry_json")
        rows = self.query(_select("sys_journal", ids, columns))
        return sorted((JournalEntry.from_row(r) for r in rows), key=lambda e: (e.invocation_id, e.index))

    def callees(self, ids: Sequence[str]) -> list[Invocation]:
        """The invocations that ``ids`` called (one level of the call tree)."""
        if not ids:
            return []
        return [Invocation.from_row(r) for r in self.query(f"SELECT * FROM sys_invocation WHERE invoked_by_id IN ({_quoted(ids)})")]

    def call_tree(self, roots: Sequence[str]) -> list[Invocation]:
        """``roots`` and every invocation they called, at any depth."""
        rows = self.invocations(roots)
        callees = self.callees(roots)
        while callees:
            rows += callees
            callees = self.callees([r.id for r in callees])
        return rows

    def by_idempotency_key(self, keys: Sequence[str]) -> list[Invocation]:
        """Invocations created with any of ``keys`` (id and key only)."""
        if not keys:
            return []
        return [
            Invocation.from_row({"status": "unknown", **r})
            for r in self.query(f"SELECT id, idempotency_key FROM sys_invocation WHERE idempotency_key IN ({_quoted(keys)})")
        ]

    def outputs(self, ids: Sequence[str]) -> dict[str, Any]:
        """Decoded outputs of completed invocations, from their ``Command: Output`` journal
        entries: one query for a whole batch, and it covers callees, whose outputs the
        ingress does not serve."""
        if not ids:
            return {}
        rows = self.query(
            f"SELECT id, entry_json FROM sys_journal WHERE entry_type = 'Command: Output' AND id IN ({_quoted(ids)})"
        )
        found: dict[str, Any] = {}
        for row in rows:
            try:
                result = json.loads(row["entry_json"])["Command"]["Output"]["result"]
                found[row["id"]] = json.loads(bytes(result["Success"])) if "Success" in result else result
            except (KeyError, ValueError, TypeError):
                found[row["id"]] = None
        return found

    def inputs(self, ids: Sequence[str]) -> dict[str, str]:
        """The input each invocation was started with, as journaled (``Command: Input``),
        decoded to text where it is UTF-8: how a child started over plain HTTP is tied to
        the request whose token it carries."""
        if not ids:
            return {}
        rows = self.query(
            f"SELECT id, entry_json FROM sys_journal WHERE entry_type = 'Command: Input' AND id IN ({_quoted(ids)})"
        )
        found: dict[str, str] = {}
        for row in rows:
            text = row.get("entry_json", "")
            try:
                payload = json.loads(text)["Command"]["Input"]["payload"]
                text = bytes(payload).decode("utf-8", errors="replace") if isinstance(payload, list) else str(payload)
            except (KeyError, ValueError, TypeError):
                pass
            found[row["id"]] = text
        return found

    def kill_invocation(self, invocation_id: str) -> None:
        self._control(invocation_id, "kill")

    def cancel_invocation(self, invocation_id: str) -> None:
        self._control(invocation_id, "cancel")

    def purge_invocation(self, invocation_id: str) -> None:
        """Forget a completed invocation: its row, journal and idempotency record."""
        self._control(invocation_id, "purge")

    def count(self, table: str) -> int:
        """How many rows ``table`` has (``sys_invocation``, ``state``, ...)."""
        rows = self.query(f"SELECT count(*) AS n FROM {table}")
        return int(rows[0]["n"]) if rows else 0

    def _control(self, invocation_id: str, verb: str) -> None:
        response = self._http.patch(f"/invocations/{invocation_id}/{verb}")
        if response.status_code >= 300:
            raise HarnessError(f"{verb} {invocation_id} failed: HTTP {response.status_code} {response.text[:200]}")


def _quoted(values: Sequence[str]) -> str:
    """An SQL list of string literals; quotes are dropped (ids and keys never contain them)."""
    return ",".join("'" + v.replace("'", "") + "'" for v in values)


def _select(table: str, ids: Sequence[str] | None, columns: str = "*") -> str:
    if ids is None:
        return f"SELECT {columns} FROM {table}"
    return f"SELECT {columns} FROM {table} WHERE id IN ({_quoted(ids)})"



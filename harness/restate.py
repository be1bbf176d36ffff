"""restate-server as a managed process, and small typed clients for its admin API
(registration, SQL introspection, invocation control) and its ingress (call, send, attach).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from . import binaries, cleanup
from .errors import HarnessError
from .ports import free_port
from .process import ManagedProcess, http_ready

# Fast recovery for tests: the server default (500 ms, doubling to 60 s) would turn a
# 1 s outage into many seconds of back-off. 100 ms doubling to 1 s keeps retries quick
# but still bounded; 200 attempts ≈ 3 minutes before the server pauses the invocation.
FAST_RETRY_POLICY = {
    "RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL": "100ms",
    "RESTATE_DEFAULT_RETRY_POLICY__EXPONENTIATION_FACTOR": "2.0",
    "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "1s",
    "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "200",
}
# How long the server waits on a silent deployment before asking it to suspend, and
# then before aborting the attempt. Short, so a paused agent is detected in seconds.
INACTIVITY_TIMEOUT_S = 2.0
ABORT_TIMEOUT_S = 2.0


@dataclass
class RestateServer:
    """One restate-server with its own base dir and loopback ports. ``restart()`` keeps
    both, which is how a scenario tests that the journal survives a crash."""

    log_dir: Path
    inactivity_timeout_s: float = INACTIVITY_TIMEOUT_S
    abort_timeout_s: float = ABORT_TIMEOUT_S
    extra_env: dict[str, str] = field(default_factory=dict)
    ingress_port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    node_port: int = field(default_factory=free_port)
    external_admin_url: str | None = None  # a server someone else runs: never started or signalled
    external_ingress_url: str | None = None
    process: ManagedProcess | None = field(default=None, init=False)
    base_dir: Path | None = field(default=None, init=False)

    @classmethod
    def from_environment(cls, log_dir: Path, **options: Any) -> "RestateServer":
        """An already-running server if ``RESTATE_ADMIN_URL`` and ``RESTATE_INGRESS_URL`` are
        set (on this machine: the agents' links are on loopback), else our own."""
        admin, ingress = os.environ.get("RESTATE_ADMIN_URL"), os.environ.get("RESTATE_INGRESS_URL")
        if bool(admin) != bool(ingress):
            raise HarnessError("set both RESTATE_ADMIN_URL and RESTATE_INGRESS_URL to use a running restate-server")
        if admin and ingress:
            port = httpx.URL(ingress).port
            if port is None:
                raise HarnessError(f"RESTATE_INGRESS_URL={ingress} must name a port")
            return cls(log_dir, external_admin_url=admin, external_ingress_url=ingress, ingress_port=port, **options)
        return cls(log_dir, **options)

    @property
    def external(self) -> bool:
        return self.external_admin_url is not None

    @property
    def admin_url(self) -> str:
        return self.external_admin_url or f"http://127.0.0.1:{self.admin_port}"

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}"

    def _env(self) -> dict[str, str]:
        return {
            "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{self.ingress_port}",
            "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{self.admin_port}",
            "RESTATE_BIND_ADDRESS": f"127.0.0.1:{self.node_port}",
            "RESTATE_DEFAULT_NUM_PARTITIONS": "1",
            "RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE": "64 MB",
            "RESTATE_LOG_DISABLE_ANSI_CODES": "true",
            "RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": f"{int(self.inactivity_timeout_s * 1000)}ms",
            "RESTATE_WORKER__INVOKER__ABORT_TIMEOUT": f"{int(self.abort_timeout_s * 1000)}ms",
            **FAST_RETRY_POLICY,
            **self.extra_env,
        }

    def start(self) -> "RestateServer":
        self.spawn()
        return self.wait_until_ready()

    def spawn(self) -> "RestateServer":
        """Start the server without waiting for it (see ``wait_until_ready``)."""
        if self.external:
            return self
        if self.base_dir is None:
            self.base_dir = cleanup.make_temp_dir("restate-")
        self.process = ManagedProcess(
            name="restate-server",
            argv=[binaries.restate_server(), "--base-dir", str(self.base_dir), "--no-logo", "--listen-mode", "tcp"],
            env=self._env(),
            log_path=self.log_dir / "restate-server.log",
            ready=_sql_ready(self.admin_url),
        )
        self.process.spawn()
        return self

    def wait_until_ready(self) -> "RestateServer":
        """Ready when SQL introspection answers; if another program took one of the ports
        between picking and binding, start again on fresh ones."""
        if self.external:
            if not _sql_ready(self.admin_url)():
                raise HarnessError(f"RESTATE_ADMIN_URL={self.admin_url} does not answer SQL introspection: is it a Restate admin API?")
            return self
        for attempt in range(3):
            assert self.process is not None
            try:
                self.process.wait_until_ready()
                return self
            except HarnessError as exc:
                if attempt == 2 or "Address in use" not in str(exc):
                    raise
            self.ingress_port, self.admin_port, self.node_port = free_port(), free_port(), free_port()
            self.spawn()
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()

    def restart(self) -> None:
        """Start again on the same data dir and ports."""
        assert self.process is not None
        self.process.restart()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        if self.base_dir is not None:
            cleanup.remove_temp_dir(self.base_dir)
            self.base_dir = None


def _sql_ready(admin_url: str):
    """``/health`` answers before partitions can serve queries; wait for SQL to work."""

    def check() -> bool:
        try:
            response = httpx.post(
                f"{admin_url}/query",
                json={"query": "SELECT id FROM sys_invocation LIMIT 1"},
                headers={"accept": "application/json"},
                timeout=1.0,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    return check


class RestateAdmin:
    """The admin API: deployments, SQL introspection, invocation control."""

    def __init__(self, admin_url: str, *, timeout_s: float = 10.0) -> None:
        self.url = admin_url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def register(self, deployment_uri: str, *, timeout_s: float = 20.0) -> dict[str, Any]:
        """Register (or force re-register) a deployment. Retries while the server is still
        warming up or the deployment is still starting."""
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            try:
                response = self._http.post("/deployments", json={"uri": deployment_uri, "force": True})
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code in (200, 201):
                    return response.json()
                last = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code == 404:
                    raise HarnessError(f"{self.url} is not a Restate admin API (404 on /deployments)")
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

    def invocations(self, ids: list[str] | None = None) -> list[dict[str, Any]]:
        if ids == []:
            return []
        return self.query(_select("sys_invocation", ids))

    def journal(self, ids: list[str] | None = None) -> list[dict[str, Any]]:
        if ids == []:
            return []
        rows = self.query(_select("sys_journal", ids, "id, index, entry_type, name, appended_at, entry_lite_json"))
        return sorted(rows, key=lambda r: (r["id"], int(r["index"])))

    def callees(self, ids: list[str]) -> list[dict[str, Any]]:
        """The invocations that ``ids`` called (one level of the call tree)."""
        if not ids:
            return []
        quoted = ",".join(f"'{i}'" for i in ids)
        return self.query(f"SELECT * FROM sys_invocation WHERE invoked_by_id IN ({quoted})")

    def by_idempotency_key(self, keys: list[str]) -> list[dict[str, Any]]:
        """Invocations created with any of ``keys`` (id and key only)."""
        if not keys:
            return []
        quoted = ",".join("'" + k.replace("'", "") + "'" for k in keys)
        return self.query(f"SELECT id, idempotency_key FROM sys_invocation WHERE idempotency_key IN ({quoted})")

    def outputs(self, ids: list[str]) -> dict[str, Any]:
        """Decoded outputs of completed invocations, from their ``Command: Output`` journal
        entries: one query for a whole batch, and it covers callees, whose outputs the
        ingress does not serve."""
        if not ids:
            return {}
        quoted = ",".join(f"'{i}'" for i in ids)
        rows = self.query(
            f"SELECT id, entry_json FROM sys_journal WHERE entry_type = 'Command: Output' AND id IN ({quoted})"
        )
        found: dict[str, Any] = {}
        for row in rows:
            try:
                result = json.loads(row["entry_json"])["Command"]["Output"]["result"]
                found[row["id"]] = json.loads(bytes(result["Success"])) if "Success" in result else result
            except (KeyError, ValueError, TypeError):
                found[row["id"]] = None
        return found

    def kill_invocation(self, invocation_id: str) -> None:
        self._control(invocation_id, "kill")

    def cancel_invocation(self, invocation_id: str) -> None:
        self._control(invocation_id, "cancel")

    def _control(self, invocation_id: str, verb: str) -> None:
        response = self._http.patch(f"/invocations/{invocation_id}/{verb}")
        if response.status_code >= 300:
            raise HarnessError(f"{verb} {invocation_id} failed: HTTP {response.status_code} {response.text[:200]}")


def _select(table: str, ids: list[str] | None, columns: str = "*") -> str:
    if ids is None:
        return f"SELECT {columns} FROM {table}"
    quoted = ",".join("'" + i.replace("'", "") + "'" for i in ids)
    return f"SELECT {columns} FROM {table} WHERE id IN ({quoted})"


@dataclass(frozen=True)
class Sent:
    """An invocation accepted by the ingress."""

    invocation_id: str
    idempotency_key: str | None


class RestateIngress:
    """The ingress: call a handler, send one with an idempotency key, attach to it."""

    def __init__(self, ingress_url: str, *, timeout_s: float = 120.0) -> None:
        self.url = ingress_url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def call(self, service: str, handler: str, payload: Any) -> Any:
        response = self._http.post(f"/{service}/{handler}", json=payload)
        response.raise_for_status()
        return response.json()

    def send(self, service: str, handler: str, payload: Any, *, idempotency_key: str | None = None) -> Sent:
        headers = {"idempotency-key": idempotency_key} if idempotency_key else {}
        deadline = time.monotonic() + 10.0
        while True:
            response = self._http.post(f"/{service}/{handler}/send", json=payload, headers=headers)
            # Right after registration the ingress may not know the service yet.
            if response.status_code != 404 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if response.status_code >= 300:
            raise HarnessError(
                f"Restate ingress refused {service}/{handler}: HTTP {response.status_code} {response.text[:300]}"
            )
        return Sent(response.json()["invocationId"], idempotency_key)

    def output(self, invocation_id: str) -> tuple[int, Any]:
        """(status, body) of a finished invocation; status 470 means not finished yet."""
        response = self._http.get(f"/restate/invocation/{invocation_id}/output")
        return response.status_code, _json_or_text(response)

    def attach(self, invocation_id: str, *, timeout_s: float = 60.0) -> tuple[int, Any]:
        response = self._http.get(f"/restate/invocation/{invocation_id}/attach", timeout=timeout_s)
        return response.status_code, _json_or_text(response)


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text

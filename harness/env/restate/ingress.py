"""Restate's ingress: call a handler, send one with an idempotency key, attach to it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from harness.errors import HarnessError


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

    def send(
        self, service: str, handler: str, payload: Any, *, idempotency_key: str | None = None, key: str | None = None
    ) -> Sent:
        """Send without waiting; ``key`` addresses a Virtual Object or a Workflow."""
        headers = {"idempotency-key": idempotency_key} if idempotency_key else {}
        path = f"/{service}/{key}/{handler}/send" if key is not None else f"/{service}/{handler}/send"
        deadline = time.monotonic() + 10.0
        while True:
            response = self._http.post(path, json=payload, headers=headers)
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

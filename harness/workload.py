"""The workload: requests sent through the ingress, each with a unique correlation token
in the user's question and an idempotency key, so that every LLM call and journal row can
be traced back to the request that caused it, even for agents the harness did not write."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.env.restate.ingress import RestateIngress, Sent
from harness.history import Request

from .errors import HarnessError

TOKEN_PREFIX = "rrh-"


def new_token() -> str:
    """A correlation token; the fake LLM finds it in prompts with ``rrh-[0-9a-f]{12}``."""
    return TOKEN_PREFIX + secrets.token_hex(6)


@dataclass(frozen=True)
class Requests:
    """Send ``n`` requests to ``service.handler``, spread evenly over ``spread_s`` seconds.
    ``question`` is any JSON value; ``{token}`` in any of its strings is replaced by the
    request's token. A plain string without the placeholder gets the token appended, in
    brackets. ``key`` addresses a Virtual Object or Workflow (``{token}``: a fresh key per
    request).

    A send that fails (the ingress is down, or its link is cut) is retried with the same
    idempotency key, so it creates at most one invocation."""

    service: str
    handler: str
    question: Any
    n: int = 1
    spread_s: float = 0.0
    retry_for_s: float = 30.0
    key: str | None = None
    # Restate refuses an idempotency key for a Workflow's run: its key already makes it idempotent.
    idempotency_header: bool = True

    def render(self, token: str) -> Any:
        if isinstance(self.question, str) and "{token}" not in self.question:
            return f"{self.question} [{token}]"
        return _fill(self.question, token)

    def send(
        self, ingress: RestateIngress, into: list[Request] | None = None, on_sent: Callable[[int], None] | None = None
    ) -> list[Request]:
        """Send every request; each accepted one is appended to ``into`` as soon as it is."""
        sent: list[Request] = [] if into is None else into
        start = time.monotonic()
        for i in range(self.n):
            if self.spread_s:
                time.sleep(max(0.0, start + i * self.spread_s / self.n - time.monotonic()))
            token = new_token()
            question = self.render(token)
            began = time.time()
            accepted = self._send_one(ingress, question, token)
            sent.append(Request(token, json.dumps(question) if not isinstance(question, str) else question,
                                accepted.invocation_id, token, time.time(), began))
            if on_sent is not None:
                on_sent(len(sent))
        return sent

    def _send_one(self, ingress: RestateIngress, question: Any, token: str) -> Sent:
        deadline = time.monotonic() + self.retry_for_s
        while True:
            try:
                key = self.key.replace("{token}", token) if self.key is not None else None
                return ingress.send(self.service, self.handler, question, key=key,
                                    idempotency_key=token if self.idempotency_header else None)
            except (HarnessError, httpx.HTTPError) as exc:
                if time.monotonic() > deadline:
                    raise HarnessError(f"the ingress did not accept a request for {self.retry_for_s:.0f}s: {exc}") from None
                time.sleep(0.1)


@dataclass
class WorkloadRecord:
    """What the workload did, for the checker and the report."""

    requests: list[Request] = field(default_factory=list)

    @property
    def invocation_ids(self) -> list[str]:
        return [r.invocation_id for r in self.requests]


def _fill(value: Any, token: str) -> Any:
    """``value`` with ``{token}`` replaced in every string, at any depth."""
    if isinstance(value, str):
        return value.replace("{token}", token)
    if isinstance(value, list):
        return [_fill(v, token) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, token) for k, v in value.items()}
    return value

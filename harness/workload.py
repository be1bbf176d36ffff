"""The workload: requests sent through the ingress, each with a unique correlation token
in the user's question and an idempotency key, so that every LLM call and journal row can
be traced back to the request that caused it, even for agents the harness did not write."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
    ``question`` may contain ``{token}``; otherwise the token is appended, in brackets.

    A send that fails (the ingress is down, or its link is cut) is retried with the same
    idempotency key, so it creates at most one invocation."""

    service: str
    handler: str
    question: str
    n: int = 1
    spread_s: float = 0.0
    retry_for_s: float = 30.0

    def render(self, token: str) -> str:
        if "{token}" in self.question:
            return self.question.replace("{token}", token)
        return f"{self.question} [{token}]"

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
            accepted = self._send_one(ingress, question, token)
            sent.append(Request(token, question, accepted.invocation_id, token, time.time()))
            if on_sent is not None:
                on_sent(len(sent))
        return sent

    def _send_one(self, ingress: RestateIngress, question: str, token: str) -> Sent:
        deadline = time.monotonic() + self.retry_for_s
        while True:
            try:
                return ingress.send(self.service, self.handler, question, idempotency_key=token)
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

"""The workload: requests sent through the ingress, each with a unique correlation token
in the user's question and an idempotency key, so that every LLM call and journal row can
be traced back to the request that caused it, even for agents the harness did not write."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from .restate import RestateIngress

TOKEN_PREFIX = "rrh-"


def new_token() -> str:
    """A correlation token; the fake LLM finds it in prompts with ``rrh-[0-9a-f]{12}``."""
    return TOKEN_PREFIX + secrets.token_hex(6)


@dataclass(frozen=True)
class Request:
    """One request of the workload and the invocation Restate created for it."""

    token: str
    question: str
    invocation_id: str
    idempotency_key: str
    sent_at: float


@dataclass(frozen=True)
class Requests:
    """Send ``n`` requests to ``service.handler``. ``question`` may contain ``{token}``;
    otherwise the token is appended, in brackets."""

    service: str
    handler: str
    question: str
    n: int = 1
    expected_answer: str | None = None

    def render(self, token: str) -> str:
        if "{token}" in self.question:
            return self.question.replace("{token}", token)
        return f"{self.question} [{token}]"

    def send(self, ingress: RestateIngress) -> list[Request]:
        sent: list[Request] = []
        for _ in range(self.n):
            token = new_token()
            question = self.render(token)
            accepted = ingress.send(self.service, self.handler, question, idempotency_key=token)
            sent.append(Request(token, question, accepted.invocation_id, token, time.time()))
        return sent


@dataclass
class WorkloadRecord:
    """What the workload did, for the checker and the report."""

    requests: list[Request] = field(default_factory=list)

    @property
    def invocation_ids(self) -> list[str]:
        return [r.invocation_id for r in self.requests]

    def by_token(self) -> dict[str, Request]:
        return {r.token: r for r in self.requests}

"""Remote specialists in Python: ``BillingAgent.run`` and ``AccountAgent.run``, each its
own process and deployment (``billing_app``, ``account_app``). ``ProductAgent`` is the
TypeScript one in ``agents/product_agent_ts``."""

from __future__ import annotations

import restate

from .refunds import issue_refund
from .routing import ANSWER_STEP, REFUND_STEP
from .specialists import ask_specialist


def specialist_service(name: str, *, refunds: bool = False) -> restate.Service:
    """A service whose ``run`` answers with the ``name`` specialist's prompt, as a journaled
    step; with ``refunds``, it first issues a refund, also as a journaled step."""
    service = restate.Service(name)

    @service.handler("run")
    async def run(ctx: restate.Context, question: str) -> str:
        if refunds:
            await ctx.run_typed("issue refund", issue_refund, REFUND_STEP, question=question)
        return await ctx.run_typed(f"ask {name}", ask_specialist, ANSWER_STEP, agent=name, question=question)

    return service


billing_app = restate.app(services=[specialist_service("BillingAgent", refunds=True)])
account_app = restate.app(services=[specialist_service("AccountAgent")])

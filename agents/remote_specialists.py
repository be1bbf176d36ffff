"""Remote specialists in Python: ``BillingAgent.run`` and ``AccountAgent.run``, each its
own process and deployment (``billing_app``, ``account_app``). ``ProductAgent`` is the
TypeScript one in ``agents/product_agent_ts``."""

from __future__ import annotations

import restate

from .local_router import ANSWER_STEP
from .specialists import ask_specialist


def specialist_service(name: str) -> restate.Service:
    """A service whose ``run`` answers with the ``name`` specialist's prompt, as a journaled step."""
    service = restate.Service(name)

    @service.handler("run")
    async def run(ctx: restate.Context, question: str) -> str:
        return await ctx.run_typed(f"ask {name}", ask_specialist, ANSWER_STEP, agent=name, question=question)

    return service


billing_app = restate.app(services=[specialist_service("BillingAgent")])
account_app = restate.app(services=[specialist_service("AccountAgent")])

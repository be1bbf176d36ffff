"""What the fake LLM answers in the catalogue's conversations."""

from __future__ import annotations

from harness.env.real_llm import scripted_answers
from harness.fake_llm import FakeLLM, tool_call

BILLING_QUESTION = "I was charged twice for my subscription this month {token}"
BILLING_ANSWER = "I have refunded the duplicate charge; it will show within 5 days."


PRODUCT_QUESTION = "How do I export my dashboards to CSV? {token}"
PRODUCT_ANSWER = "Open the dashboard, choose Export, then CSV."


def conversation(agent: str, specialist_prompt: str, answer: str, *, hold_answer: bool = False):  # type: ignore[no-untyped-def]
    """Routing picks ``agent``; that specialist (recognised by its system prompt) answers.
    With ``hold_answer``, the specialist's first answer is held until the fault is in place."""

    def script(llm: FakeLLM) -> None:
        if not scripted_answers(llm):  # a real provider answers; only the hold is ours
            if hold_answer:
                llm.on(system_contains=specialist_prompt).hold().forward(times=1)
            return
        llm.on(has_tools=True).reply(tool_call(agent, {}))
        if hold_answer:
            llm.on(system_contains=specialist_prompt).hold().reply(answer, times=1)
        llm.on(system_contains=specialist_prompt).reply(answer)

    return script


def billing_conversation(*, hold_answer: bool = False):  # type: ignore[no-untyped-def]
    return conversation("BillingAgent", "billing specialist", BILLING_ANSWER, hold_answer=hold_answer)


def product_conversation(*, hold_answer: bool = False):  # type: ignore[no-untyped-def]
    """Routed to the TypeScript ProductAgent."""
    return conversation("ProductAgent", "product specialist", PRODUCT_ANSWER, hold_answer=hold_answer)

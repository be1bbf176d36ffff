"""What the fake LLM answers in the catalogue's conversations."""

from __future__ import annotations

from harness.fake_llm import FakeLLM, tool_call

BILLING_QUESTION = "I was charged twice for my subscription this month {token}"
BILLING_ANSWER = "I have refunded the duplicate charge; it will show within 5 days."


def billing_conversation(*, hold_answer: bool = False):  # type: ignore[no-untyped-def]
    """Routing picks BillingAgent; the billing specialist answers. With ``hold_answer``,
    the specialist's first answer is held until the fault is in place."""

    def script(llm: FakeLLM) -> None:
        llm.on(has_tools=True).reply(tool_call("BillingAgent", {}))
        if hold_answer:
            llm.on(system_contains="billing specialist").hold().reply(BILLING_ANSWER, times=1)
        llm.on(system_contains="billing specialist").reply(BILLING_ANSWER)

    return script

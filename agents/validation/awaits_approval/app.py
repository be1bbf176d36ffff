"""An agent that waits for a human: ``Approver/ask`` blocks on an awakeable, and the
``Signup`` workflow on a durable promise that its ``approve`` handler resolves. Validation
must report each as needing input, naming what it waits on, never as hung or passed.

    restate-resilience validate --cwd agents/validation/awaits_approval \
        --cmd 'python -m harness.serve app:app --port {port}' --entry Signup/run
"""

import restate

approver = restate.Service("Approver")


@approver.handler()
async def ask(ctx: restate.Context, question: str) -> str:
    _, approval = ctx.awakeable(type_hint=str)  # completed by a human through the ingress
    return await approval


signup = restate.Workflow("Signup")


@signup.main()
async def run(ctx: restate.WorkflowContext, email: str) -> str:
    return await ctx.promise("approved", type_hint=str).value()


@signup.handler()
async def approve(ctx: restate.WorkflowSharedContext, decision: str) -> None:
    await ctx.promise("approved", type_hint=str).resolve(decision)


app = restate.app(services=[approver, signup])

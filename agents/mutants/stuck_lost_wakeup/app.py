"""MUTANT (stuck_invocation): a workflow that hands its LLM work to an in-process background
task and waits for a durable promise that the task resolves through Restate's ingress. The
journaled step only records "worker started" (``True``); the worker itself, its LLM call and
its delivery live in process memory, out of Restate's reach. Without faults it finishes. If
the process dies while the worker runs (e.g. while the LLM call is in flight), Restate
retries ``run``, replays the journaled step without running it again, so no worker is ever
restarted: ``run`` waits on the promise for good, a lost wakeup. No error, no retry, no
timeout ends it, even after every fault has healed.

Standalone, on the ``openai`` SDK. Serve it from this folder, with the ingress in INGRESS_URL:

    INGRESS_URL=http://127.0.0.1:8080 python -m hypercorn app:app --bind 127.0.0.1:9080

Entry: ``Ticket/run`` (any key) with ``{"message": "..."}``. The fix: do the LLM call in a
journaled step of ``run`` itself (``ctx.run_typed``), or start the work as a Restate
invocation (``ctx.service_send``) that resolves the promise, so Restate retries it too.
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse

import httpx
import restate
from openai import AsyncOpenAI
from pydantic import BaseModel

client = AsyncOpenAI(max_retries=0, timeout=float(os.environ.get("OPENAI_TIMEOUT_S", "30")))
INGRESS_URL = os.environ.get("INGRESS_URL", "http://127.0.0.1:8080").rstrip("/")
LLM_ATTEMPTS = 4
DELIVERY_DEADLINE_S = 60.0
_workers: set[asyncio.Task[None]] = set()  # in-process only: a crash loses them


async def draft_reply(message: str) -> str:
    completion = await client.chat.completions.create(
        model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
        messages=[{"role": "system", "content": "Draft a reply to the customer."}, {"role": "user", "content": message}],
    )
    return completion.choices[0].message.content or ""


async def deliver_over_ingress(key: str, handler: str, value: str) -> None:
    """POST to the workflow's shared handler through the ingress, retried while Restate is away,
    with an idempotency key so that a retried POST is not a second delivery."""
    url = f"{INGRESS_URL}/Ticket/{urllib.parse.quote(key, safe='')}/{handler}"
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + DELIVERY_DEADLINE_S, 0.1
    async with httpx.AsyncClient(timeout=10.0) as http:
        while True:
            try:
                response = await http.post(url, json=value, headers={"idempotency-key": f"{key}-{handler}"})
                if response.status_code not in (502, 503, 504):
                    return  # delivered (or refused for good: nothing more to do)
            except httpx.TransportError:
                pass
            if loop.time() > deadline:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def work_in_background(key: str, message: str) -> None:
    delay = 0.2
    for attempt in range(1, LLM_ATTEMPTS + 1):
        try:
            text = await draft_reply(message)
        except Exception as exc:  # noqa: BLE001 - bounded: the last failure rejects the promise
            if attempt == LLM_ATTEMPTS:
                await deliver_over_ingress(key, "fail", f"the LLM failed {attempt} times: {exc}")
                return
            await asyncio.sleep(delay)
            delay *= 2
        else:
            await deliver_over_ingress(key, "deliver", text)
            return


async def start_worker(key: str, message: str) -> bool:
    # BUG: the real work runs outside the step, in a task that only this process knows about.
    # The step journals True at once; a replay after a crash never starts the task again.
    task = asyncio.create_task(work_in_background(key, message))
    _workers.add(task)
    task.add_done_callback(_workers.discard)
    return True


class Message(BaseModel):
    message: str


ticket = restate.Workflow("Ticket")


@ticket.main()
async def run(ctx: restate.WorkflowContext, request: Message) -> str:
    await ctx.run_typed("start worker", start_worker, key=ctx.key(), message=request.message)
    return await ctx.promise("answer", type_hint=str).value()  # resolved by the worker, if it lives


@ticket.handler()
async def deliver(ctx: restate.WorkflowSharedContext, text: str) -> None:
    await ctx.promise("answer", type_hint=str).resolve(text)


@ticket.handler()
async def fail(ctx: restate.WorkflowSharedContext, reason: str) -> None:
    await ctx.promise("answer", type_hint=str).reject(reason)


app = restate.app(services=[ticket])

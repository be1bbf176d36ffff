"""The billing agents' side effect: a refund through an external API (``REFUNDS_URL``).
It must happen once per request, so it belongs in a journaled step."""

from __future__ import annotations

import os

import httpx


async def issue_refund(question: str) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{os.environ['REFUNDS_URL']}/refunds", json={"reason": question})
        response.raise_for_status()
        return str(response.json()["id"])

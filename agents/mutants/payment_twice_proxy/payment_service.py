"""A tiny payment API for the payment agents (``payment_twice_proxy``, ``payment_in_step_proxy``):
the service a user runs, which ``validate --proxy`` puts a recording proxy in front of.
Loopback only; charges are kept in memory.

    python payment_service.py --port 8000

- ``POST /v1/charges`` ``{"order": "...", "cents": 1200}`` charges the card: 201 and the new
  charge ``{"id", "order", "cents", "status"}``. With an ``Idempotency-Key`` header it charges
  once per key: the same key again answers the first charge (200, ``Idempotent-Replayed: true``).
- ``GET /v1/charges`` lists every charge (``?order=`` to filter).
- ``GET /health``.
"""

from __future__ import annotations

import argparse
import secrets
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def create_app() -> Starlette:
    charges: list[dict[str, Any]] = []
    by_key: dict[str, dict[str, Any]] = {}

    async def charge(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, 400)
        order, cents = (body.get("order"), body.get("cents")) if isinstance(body, dict) else (None, None)
        if not isinstance(order, str) or not order or not isinstance(cents, int) or isinstance(cents, bool) or cents < 0:
            return JSONResponse({"error": "expected {\"order\": string, \"cents\": integer >= 0}"}, 400)
        key = request.headers.get("idempotency-key")
        if key and key in by_key:
            return JSONResponse(by_key[key], 200, {"Idempotent-Replayed": "true"})
        made = {"id": f"ch_{secrets.token_hex(8)}", "order": order, "cents": cents, "status": "succeeded"}
        charges.append(made)
        if key:
            by_key[key] = made
        return JSONResponse(made, 201)

    async def listing(request: Request) -> JSONResponse:
        order = request.query_params.get("order")
        return JSONResponse([c for c in charges if order is None or c["order"] == order])

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "charges": len(charges)})

    return Starlette(routes=[
        Route("/v1/charges", charge, methods=["POST"]),
        Route("/v1/charges", listing, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ])


app = create_app()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="A tiny in-memory payment API on loopback.")
    parser.add_argument("--port", type=int, required=True)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")

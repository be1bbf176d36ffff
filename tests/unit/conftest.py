"""Fixtures shared by the unit tests: the anyio backend, an in-process client on the fake
LLM app, and the fake LLM served for real on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from harness.fake_llm import FakeLLM, create_app
from tests.unit.served import serving


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on a fresh fake LLM app, straight through ASGI."""
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
        yield http


@pytest.fixture(scope="module")
def served() -> Iterator[FakeLLM]:
    """The app under uvicorn on a kernel-chosen loopback port, in a thread; stopped afterwards."""
    with serving(create_app()) as url, FakeLLM(url) as llm:
        try:
            yield llm
        finally:
            llm.reset()


@pytest.fixture
def llm(served: FakeLLM) -> Iterator[FakeLLM]:
    served.reset()
    yield served
    served.reset()

"""harness.serve's hypercorn settings, against a real HTTP/2 client: Restate multiplexes every
invocation to a deployment over one long-lived h2c connection, so the 1,001st stream must not
strand the streams still open on it (hypercorn's default did: a soak's attempts hung until
Restate's inactivity timeout aborted them, wasting the LLM calls they had made)."""

from __future__ import annotations

import asyncio

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config

from harness.env.ports import free_port
from harness.serve import config


def _app_with_slow_path(release: asyncio.Event):  # type: ignore[no-untyped-def]
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def _slow_stream_survives(cfg: Config, quick_requests: int) -> bool:
    """Open a stream that answers late, send ``quick_requests`` more on the same connection,
    then release the first: does its answer still arrive?"""
    release, stop = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(serve(_app_with_slow_path(release), cfg, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    url = f"http://{cfg.bind[0]}"
    try:
        async with httpx.AsyncClient(http1=False, http2=True, timeout=5) as client:
            for _ in range(100):  # until hypercorn listens
                try:
                    await client.get(f"{url}/quick")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            slow = asyncio.create_task(client.get(f"{url}/slow"))
            await asyncio.sleep(0.05)
            for _ in range(quick_requests):
                try:
                    await client.get(f"{url}/quick")
                except httpx.RemoteProtocolError:  # the GOAWAY; the client reconnects
                    pass
            release.set()
            try:
                return (await asyncio.wait_for(slow, 3)).status_code == 200
            except (asyncio.TimeoutError, httpx.HTTPError):
                return False
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)


def test_more_than_a_thousand_streams_on_one_connection_strand_none() -> None:
    assert asyncio.run(_slow_stream_survives(config("127.0.0.1", free_port()), 1_005))


def test_hypercorn_default_strands_open_streams_after_a_thousand() -> None:
    """The failure the setting prevents, so this test notices if hypercorn's default changes."""
    default = Config()
    default.bind = [f"127.0.0.1:{free_port()}"]
    default.loglevel = "WARNING"
    assert not asyncio.run(_slow_stream_survives(default, 1_005))

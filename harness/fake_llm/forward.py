"""Forwarding to a real LLM (the "upstream"): the fake as a recording proxy.

With `--upstream https://api.openai.com/v1`, a forward rule (and every request no rule
matches) goes upstream to the same path, with the body unchanged and the agent's own
`Authorization`: the agent holds the user's key, the fake only passes it on and keeps it
out of the ledger. The answer comes back as it came: status, body, the headers clients act
on (Retry-After, rate limits, request id), a stream chunk by chunk. An unreachable
upstream is a 502 with an OpenAI-style error body.

An upstream made for every protocol (`Upstream.everywhere`, `Upstream.public`: what
recording a cassette uses) also takes Anthropic and Gemini requests, with their own keys
(`x-api-key`, `x-goog-api-key` or `?key=`); a plain `--upstream` is OpenAI's protocols only.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Send

from harness.fake_llm.cassette import secrets_of
from harness.fake_llm.chat import Api
from harness.fake_llm.completions import error_body
from harness.fake_llm.delivery import Answer, stream_events
from harness.fake_llm.reassemble import streamed_body, usage_of
from harness.redact import redact_bytes

CONNECT_TIMEOUT_S = 10.0
# What an OpenAI-compatible server needs; nothing else of the agent's (cookies, tracing) leaves the machine.
FORWARDED_REQUEST_HEADERS = frozenset(
    {"authorization", "openai-organization", "openai-project", "openai-beta", "content-type", "accept",
     "x-api-key", "anthropic-version", "anthropic-beta", "x-goog-api-key"}
)
# Each provider's public base URL, as its SDK takes it: what a recording forwards to unless told otherwise.
PUBLIC_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}
# Where each protocol's requests go below its provider's base URL (Gemini's: the path the agent asked for).
_PATHS = {"chat": "/chat/completions", "responses": "/responses", "anthropic": "/v1/messages"}
# Hop-by-hop headers, the body's framing (httpx hands over the decoded body) and what uvicorn sets itself.
DROPPED_RESPONSE_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "date",
        "server",
        "set-cookie",
    }
)
# Told the upstream's whole answer (the response, and its body as it came) once it is complete.
Keep = Callable[[httpx.Response, bytes], None]
NO_UPSTREAM = (
    "fake LLM: a forward rule matched, but no upstream is configured "
    "(start the fake with --upstream URL, or set FAKE_LLM_UPSTREAM=URL)"
)


class Upstream:
    """The real LLM's base URL (e.g. https://api.openai.com/v1) and one connection pool to it;
    `others`: the base URLs of Anthropic's and Gemini's protocols, if it takes them too."""

    def __init__(self, base_url: str, others: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.others = {name: url.rstrip("/") for name, url in (others or {}).items()}
        # No read timeout: a real answer may take minutes. The agent's own timeout decides,
        # and when the agent leaves, the forward is cancelled.
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT_S))

    @classmethod
    def everywhere(cls, base_url: str) -> Upstream:
        """One server for every protocol at `base_url` (OpenAI's below it, as `OPENAI_BASE_URL`
        names it; Anthropic's and Gemini's below it without its trailing /v1)."""
        root = base_url.rstrip("/").removesuffix("/v1")
        return cls(base_url, {"anthropic": root, "gemini": root})

    @classmethod
    def public(cls) -> Upstream:
        """Each protocol's own provider, at its public URL."""
        return cls(PUBLIC_BASE_URLS["openai"], {"anthropic": PUBLIC_BASE_URLS["anthropic"],
                                                "gemini": PUBLIC_BASE_URLS["gemini"]})

    def serves(self, api: Api) -> bool:
        return api in ("chat", "responses") or api in self.others

    def request(self, incoming: Request, api: Api, body: bytes) -> httpx.Request:
        """The upstream request for `incoming`: the protocol's path below its base URL, same query and body."""
        headers = {name: value for name, value in incoming.headers.items() if name in FORWARDED_REQUEST_HEADERS}
        query = incoming.url.query
        if api == "gemini":
            url = self.others["gemini"] + incoming.url.path
        else:
            url = self.others.get(api, self.base_url) + _PATHS[api]
        return self.http.build_request("POST", url + (f"?{query}" if query else ""), content=body, headers=headers)

    def failed(self, exc: httpx.HTTPError) -> Answer:
        return error_answer(f"fake LLM: forwarding to the upstream {self.base_url} failed: {type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        await self.http.aclose()


def error_answer(message: str) -> Answer:
    """A 502 the fake gives when it cannot get the upstream's answer."""
    body = error_body(502, message)
    return Answer(JSONResponse(body, 502), "error", body)


async def fetch(
    upstream: Upstream, outgoing: httpx.Request, api: Api, first_token_delay_s: float, keep: Keep | None = None
) -> Answer:
    """Forward and read the whole answer before anything goes to the agent, so it can be held."""
    try:
        response = await upstream.http.send(outgoing, stream=True)
        try:
            chunks = [chunk async for chunk in response.aiter_bytes()]
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:
        return upstream.failed(exc)
    headers = relayed_headers(response)
    sent: Response
    if is_stream(response):
        sent = StreamingResponse(stream_events(chunks, first_token_delay_s), response.status_code, headers)
    else:
        sent = Response(b"".join(chunks), response.status_code, headers)
    answer = Answer(sent, "ok")
    record(answer, response, b"".join(chunks), api)
    if keep is not None:
        keep(response, b"".join(chunks))
    return answer


def relay(
    upstream: Upstream, outgoing: httpx.Request, api: Api, first_token_delay_s: float, keep: Keep | None = None
) -> Answer:
    """An answer that forwards when it is sent and passes the upstream's answer on as it arrives."""
    answer = Answer(Response(), "ok")
    answer.response = Relay(upstream, outgoing, answer, api, first_token_delay_s, keep)
    return answer


class Relay(StreamingResponse):
    """Send the upstream's answer on chunk by chunk, filling in `answer` before the last byte.

    A `StreamingResponse`, so that an agent that leaves cancels the forward (Starlette
    watches for the disconnect). If the upstream breaks off mid-answer, the agent's answer
    breaks off too, without its last body message (`cut`; ledger outcome "cut").
    """

    def __init__(
        self, upstream: Upstream, outgoing: httpx.Request, answer: Answer, api: Api, first_token_delay_s: float,
        keep: Keep | None = None,
    ) -> None:
        self.keep = keep
        self.upstream = upstream
        self.outgoing = outgoing
        self.answer = answer
        self.api = api
        self.first_token_delay_s = first_token_delay_s
        self.background = None
        self.cut = False

    async def stream_response(self, send: Send) -> None:
        try:
            response = await self.upstream.http.send(self.outgoing, stream=True)
        except httpx.HTTPError as exc:
            failed = self.upstream.failed(exc)
            self.answer.outcome, self.answer.body = failed.outcome, failed.body
            await send_json(send, 502, failed.body)
            return
        try:
            headers = [
                (name.encode("latin-1"), value.encode("latin-1")) for name, value in relayed_headers(response).items()
            ]
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            if self.first_token_delay_s > 0 and is_stream(response):
                await anyio.sleep(self.first_token_delay_s)
            chunks: list[bytes] = []
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            record(self.answer, response, b"".join(chunks), self.api)
            if self.keep is not None:
                self.keep(response, b"".join(chunks))
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError:
            self.cut = True
        finally:
            with anyio.CancelScope(shield=True):  # also when the agent left and the forward is being cancelled
                await response.aclose()


def record(answer: Answer, response: httpx.Response, content: bytes, api: Api) -> None:
    """What the ledger says of an upstream answer: outcome, body (a stream as its whole answer), usage."""
    content = redact_bytes(content, *secrets_of(response.request.headers, response.request.url.query))
    body = streamed_body(api, content) if is_stream(response) else _json_or_text(content)
    if response.status_code >= 400:
        answer.outcome = "error"
    elif is_stream(response) or isinstance(body, dict):
        answer.outcome = "ok"
    else:
        answer.outcome = "malformed"
    answer.body = body
    answer.usage = usage_of(body) if answer.outcome == "ok" else None


def is_stream(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).startswith("text/event-stream")


def relayed_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.lower() not in DROPPED_RESPONSE_HEADERS}


async def send_json(send: Send, status: int, body: object) -> None:
    content = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content, "more_body": False})


def _json_or_text(content: bytes) -> object:
    try:
        return json.loads(content)
    except ValueError:
        return content.decode("utf-8", "replace")

"""Between the fake and a cassette: writing down a forwarded exchange as it completes
(`keeper`), and playing a recorded one back as an answer (`replayed`), streamed as it was
streamed. The cassette's format, matching and token swap are `harness.fake_llm.cassette`'s."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from harness.fake_llm.cassette import (
    REPLAYED_RESPONSE_HEADERS,
    SECRET_HEADERS,
    Exchange,
    Recording,
    recorded_request_headers,
    redact_query,
    secrets_of,
    split_events,
    with_token,
)
from harness.fake_llm.chat import ChatRequest
from harness.fake_llm.delivery import Answer, stream_events
from harness.fake_llm.forward import Keep, is_stream, record, relayed_headers
from harness.redact import redact_secrets

_CASSETTE_URL = "http://cassette.invalid"  # where a replayed answer says it came from (never reached)


def keeper(recording: Recording, incoming: Request, body: bytes, chat: ChatRequest, token: str | None) -> Keep:
    """What to do with the upstream's whole answer to `incoming`: add the exchange to the
    recording, every key the request carried redacted wherever it shows."""
    secrets = secrets_of(incoming.headers, incoming.url.query)

    def keep(response: httpx.Response, content: bytes) -> None:
        text = redact_secrets(content.decode("utf-8", "replace"), secrets)
        request = json.loads(redact_secrets(body.decode("utf-8", "replace"), secrets))
        answer: dict[str, Any] = {"events": split_events(text)} if is_stream(response) else {"body": _json_or_text(text)}
        headers = {name: value for name, value in relayed_headers(response).items() if name.lower() not in SECRET_HEADERS}
        recording.add(Exchange(
            api=chat.api, path=incoming.url.path, query=redact_query(incoming.url.query), model=chat.model,
            stream=chat.stream, token=token, request=request, status=response.status_code,
            headers={name: redact_secrets(value, secrets) for name, value in headers.items()},
            request_headers=recorded_request_headers(incoming.headers), **answer,
        ))

    return keep


def replayed(exchange: Exchange, token: str | None, first_token_delay_s: float) -> Answer:
    """The recorded answer, `token` in place of the recorded one: its status, the headers
    clients act on, and its body, or its stream event by event."""
    body, events = with_token(exchange, token)
    headers = {name: value for name, value in exchange.headers.items() if name.lower() in REPLAYED_RESPONSE_HEADERS}
    if events is not None:
        content = "".join(events).encode()
        sent: Response = StreamingResponse(stream_events([event.encode() for event in events], first_token_delay_s),
                                           exchange.status, headers)
    else:
        content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers.setdefault("content-type", "application/json")
        sent = Response(content, exchange.status, headers)
    answer = Answer(sent, "ok")
    # What the ledger says of it, as of any answer from the upstream.
    as_received = httpx.Response(exchange.status, headers=headers, content=content,
                                 request=httpx.Request("POST", _CASSETTE_URL))
    record(answer, as_received, content, exchange.api)
    return answer


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text

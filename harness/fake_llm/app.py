"""The fake LLM server: endpoints speaking OpenAI chat completions, the OpenAI Responses
API, Anthropic Messages and Gemini, answering by rules (one rule book and one ledger for
all), plus a JSON control API (`/_fake/...`) through which the harness scripts it and reads
its call ledger. What no rule scripts is answered by the default reply; in auto mode, by a
plausible generated answer (see `harness.fake_llm.auto`); given an upstream (a real LLM)
and no auto mode, by forwarding (OpenAI protocols only).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from harness.fake_llm import anthropic, completions, gemini, responses
from harness.fake_llm.auto import answer as auto_answer
from harness.fake_llm.cassette import Cassette, Recording, ReplayLog
from harness.fake_llm.cassette import load as load_cassette
from harness.fake_llm.chat import DEFAULT_MODEL, DEFAULT_TOKEN_PATTERN, ChatRequest, RequestError
from harness.fake_llm.completions import MALFORMED_BODY, chunks, completion, sse
from harness.fake_llm.delivery import (
    Answer,
    CutResponse,
    client_left,
    stream_events,
    unless_client_leaves,
)
from harness.fake_llm.forward import NO_UPSTREAM, Upstream, error_answer, fetch, relay
from harness.fake_llm.ledger import Ledger, LedgerEntry
from harness.fake_llm.playback import keeper, replayed
from harness.fake_llm.responses import sse_event
from harness.fake_llm.rules import (
    AUTO_RULE,
    DEFAULT_REPLY,
    DEFAULT_RULE,
    FORWARD_RULE,
    Action,
    Auto,
    BadAnswer,
    Failure,
    Forward,
    Hang,
    Malformed,
    Reply,
    Rule,
    RuleBook,
    RuleId,
    StreamCut,
    Structured,
    ToolCall,
)
from harness.fake_llm.flaws import spoilt
from harness.settings import OnMiss, Tape

MODELS = (DEFAULT_MODEL, "gpt-4o-mini", "gpt-4o")
# A tokenless request answered in auto mode takes the token of the last minute's calls, if there is only one.
TOKEN_INFERENCE_WINDOW_S = 60.0
# One upstream base URL (an OpenAI-compatible one) cannot answer other providers' protocols.
NOT_FORWARDED = (
    "fake LLM: forwarding to a real LLM is for the OpenAI protocols (chat completions, Responses) only; "
    "answer {api} requests with rules or the auto mode, or record a cassette (--record), which forwards them all"
)
MISSED = "fake LLM: cassette {path} has no recorded answer to this request (--on-miss fail); record it again"


class FakeState:
    """What one fake LLM process remembers: its rules, its ledger, its upstream if it has one,
    and the cassette it records or replays, if any (`harness.fake_llm.cassette`)."""

    def __init__(self, token_pattern: str, upstream: str | None = None, auto: bool | Auto = False,
                 tape: Tape | None = None) -> None:
        self.token_pattern = re.compile(token_pattern)
        self.upstream = None if upstream is None else Upstream(upstream)
        self.cassette: Cassette | None = None
        self.recording: Recording | None = None
        self.replay_log: ReplayLog | None = None
        self.on_miss: OnMiss = "auto"
        if tape is not None and tape.record:  # every protocol forwarded, to `upstream` or to each provider
            self.upstream = Upstream.public() if upstream is None else Upstream.everywhere(upstream)
            self.recording = Recording(tape.path)
        elif tape is not None:
            self.cassette = load_cassette(tape.path, self.token_pattern)
            self.replay_log = None if tape.log is None else ReplayLog(Path(tape.log))
            self.on_miss = tape.on_miss
        if auto:
            default = AUTO_RULE if auto is True else Rule(auto)
        elif tape is not None:  # the cassette answers what no rule scripts
            default = AUTO_RULE
        else:
            default = DEFAULT_RULE if upstream is None else FORWARD_RULE
        self.rules = RuleBook(default=default)
        self.ledger = Ledger()

    @property
    def plays_cassette(self) -> bool:
        """Do real answers (recorded now, or replayed) stand in for the auto mode's?"""
        return self.cassette is not None or self.recording is not None


def create_app(
    token_pattern: str = DEFAULT_TOKEN_PATTERN, upstream: str | None = None, *, auto: bool | Auto = False,
    tape: Tape | None = None,
) -> Starlette:
    """The fake LLM as an ASGI app. `token_pattern` finds the correlation token in requests;
    `upstream` (an OpenAI-compatible base URL ending in /v1) answers the forwarded ones
    (Anthropic and Gemini requests are not forwarded: they get a 501 saying so).

    `auto` (True, or an `Auto` with its own seed) answers what no rule matches with a
    generated answer instead of the default reply; forward rules still reach the upstream.

    `tape`: a cassette. Recording, what the auto mode would answer is forwarded (every
    protocol: to `upstream`, else to each provider's public URL) and written down;
    replaying, it is answered from the cassette. A missing or malformed cassette raises
    `CassetteError`.
    """
    state = FakeState(token_pattern, upstream, auto, tape)
    control = ControlAPI(state)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if state.upstream is not None:
            await state.upstream.aclose()

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1" + CHAT.path, LLMEndpoint(state, CHAT), methods=["POST"]),
            Route("/v1" + RESPONSES.path, LLMEndpoint(state, RESPONSES), methods=["POST"]),
            # The anthropic SDK appends /v1/messages to ANTHROPIC_BASE_URL, @ai-sdk/anthropic only /messages.
            Route("/v1/messages", LLMEndpoint(state, ANTHROPIC), methods=["POST"]),
            Route("/messages", LLMEndpoint(state, ANTHROPIC), methods=["POST"]),
            # "{model}:{method}": a path parameter cannot end at a colon, so the parser splits it.
            Route("/v1beta/models/{rest}", LLMEndpoint(state, GEMINI), methods=["POST"]),
            Route("/v1/models/{rest}", LLMEndpoint(state, GEMINI), methods=["POST"]),
            Route("/_fake/rules", control.list_rules, methods=["GET"]),
            Route("/_fake/rules", control.replace_rules, methods=["PUT"]),
            Route("/_fake/rules", control.add_rule, methods=["POST"]),
            Route("/_fake/rules/{rule_id}", control.remove_rule, methods=["DELETE"]),
            Route("/_fake/calls", control.list_calls, methods=["GET"]),
            Route("/_fake/calls/{call_id:int}", control.get_call, methods=["GET"]),
            Route("/_fake/calls/{call_id:int}/release", control.release, methods=["POST"]),
            Route("/_fake/release-all", control.release_all, methods=["POST"]),
            Route("/_fake/reset", control.reset, methods=["POST"]),
            Route("/_fake/info", control.info, methods=["GET"]),
        ],
    )
    app.state.fake = state
    return app


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def models(request: Request) -> Response:
    data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake-llm"} for m in MODELS]
    return JSONResponse({"object": "list", "data": data})


# --- the protocols ------------------------------------------------------------------------

Parse = Callable[[dict[str, Any], re.Pattern[str], Mapping[str, str]], ChatRequest]  # body, token pattern, path


@dataclass(frozen=True)
class Wire:
    """How one protocol reads requests and shapes answers; rules, ledger and delivery are shared."""

    parse: Parse  # may raise RequestError (answered in `error_body`'s shape)
    body: Callable[[ChatRequest, str, Reply | ToolCall], dict[str, Any]]
    events: Callable[[ChatRequest, dict[str, Any]], list[bytes]]  # the whole stream, terminator last
    unfinished: Callable[[dict[str, Any]], list[bytes]]  # the stream as it ends early: no terminator
    usage: Callable[[dict[str, Any]], dict[str, int]]  # what the ledger records of a body's usage
    error_body: Callable[[int, str | None, str | None], dict[str, Any]]  # status, message, code
    malformed_stream: bytes
    path: str | None  # below /v1, here and upstream; None: never forwarded (not an OpenAI protocol)


def _body_only(parse: Callable[[dict[str, Any], re.Pattern[str]], ChatRequest]) -> Parse:
    """A parser for a protocol whose body says everything (only Gemini's path names the model)."""

    def parse_body(body: dict[str, Any], token_pattern: re.Pattern[str], path: Mapping[str, str]) -> ChatRequest:
        return parse(body, token_pattern)

    return parse_body


def _openai_usage(body: dict[str, Any]) -> dict[str, int]:
    return body["usage"]


def _chat_events(chat: ChatRequest, body: dict[str, Any]) -> list[bytes]:
    return [sse(chunk) for chunk in chunks(body, include_usage=chat.wants_usage_chunk)] + [sse("[DONE]")]


def _responses_events(chat: ChatRequest, body: dict[str, Any]) -> list[bytes]:
    return [sse_event(event) for event in responses.events(body)]


def _anthropic_events(chat: ChatRequest, body: dict[str, Any]) -> list[bytes]:
    return [sse_event(event) for event in anthropic.events(body)]  # named events, like the Responses API's


def _gemini_events(chat: ChatRequest, body: dict[str, Any]) -> list[bytes]:
    return [gemini.sse(chunk) for chunk in gemini.chunks(body)]


CHAT = Wire(
    parse=_body_only(ChatRequest.parse),
    body=completion,
    events=_chat_events,
    unfinished=lambda body: [sse(chunk) for chunk in completions.unfinished(body)],
    usage=_openai_usage,
    error_body=completions.error_body,
    malformed_stream=b"data: " + MALFORMED_BODY + b"\n\n" + sse("[DONE]"),
    path="/chat/completions",
)
RESPONSES = Wire(
    parse=_body_only(responses.parse_request),
    body=responses.response_body,
    events=_responses_events,
    unfinished=lambda body: [sse_event(event) for event in responses.unfinished(body)],
    usage=_openai_usage,
    error_body=completions.error_body,
    malformed_stream=b"event: response.created\ndata: " + MALFORMED_BODY + b"\n\n",
    path="/responses",
)
ANTHROPIC = Wire(
    parse=_body_only(anthropic.parse_request),
    body=anthropic.message_body,
    events=_anthropic_events,
    unfinished=lambda body: [sse_event(event) for event in anthropic.unfinished(body)],
    usage=anthropic.ledger_usage,
    error_body=anthropic.error_body,
    malformed_stream=b"event: message_start\ndata: " + MALFORMED_BODY + b"\n\n",
    path=None,
)
GEMINI = Wire(
    parse=gemini.parse_request,
    body=gemini.response_body,
    events=_gemini_events,
    unfinished=lambda body: [gemini.sse(chunk) for chunk in gemini.unfinished(body)],
    usage=gemini.ledger_usage,
    error_body=gemini.error_body,
    malformed_stream=b"data: " + MALFORMED_BODY + b"\r\n\r\n",
    path=None,
)


class LLMEndpoint:
    """One protocol's endpoint (`POST /v1/chat/completions`, `/v1/responses`, `/v1/messages`,
    `/v1beta/models/{model}:generateContent`). A raw ASGI endpoint, so it can watch its own `send`."""

    def __init__(self, state: FakeState, wire: Wire) -> None:
        self.state = state
        self.wire = wire

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            body = await request.json()
        except ClientDisconnect:
            return
        except ValueError:
            body = None
        try:
            if not isinstance(body, dict):
                raise RequestError(400, "fake LLM: the request body must be a JSON object")
            chat = self.wire.parse(body, self.state.token_pattern, request.path_params)
        except RequestError as exc:
            await JSONResponse(self.wire.error_body(exc.status, str(exc), None), exc.status)(scope, receive, send)
            return
        entry = self.state.ledger.open(chat, raw=await request.body())  # read already: no wait
        picked = self.state.rules.pick(chat)
        entry.rule_index, entry.rule_id = picked.index, picked.id
        rule, action = picked.rule, picked.rule.action
        if isinstance(action, Auto) and self.state.plays_cassette:  # real answers in the auto mode's place
            action = Forward()
        # Decided here; the rule's options (delay, hold) still apply.
        if isinstance(action, Auto):
            action = auto_answer(action, chat, self.token_for(chat, entry))
        elif isinstance(action, BadAnswer):
            entry.flaw = action.flaw
            token = self.token_for(chat, entry)
            action = spoilt(action.flaw, auto_answer(self.auto_mode(), chat, token), chat, token)
        elif isinstance(action, Structured):
            action = structured_answer(action, chat)
        if isinstance(action, ToolCall):
            entry.tool_called = action.name
        if isinstance(action, Forward):
            answer = await self.forward(request, chat, entry, rule)
        else:
            answer = prepare(chat, chat.answer_id, rule, self.wire, action, unfinished=entry.flaw == "early_end")
        if answer is None or await wait_before_answering(request, entry, rule, stream=chat.stream):
            entry.mark_disconnected()
            return
        await answer.send(entry, scope, receive, send)

    def auto_mode(self) -> Auto:
        """What a bad answer spoils: the auto answer of the fake's own auto mode, or the default one."""
        default = self.state.rules.default.action
        return default if isinstance(default, Auto) else Auto()

    def token_for(self, chat: ChatRequest, entry: LedgerEntry) -> str | None:
        """The request's token; failing that, the one token of the last minute's calls, noted on the entry."""
        if chat.token is not None:
            return chat.token
        inferred = self.state.ledger.sole_recent_token(TOKEN_INFERENCE_WINDOW_S)
        if inferred is not None:
            entry.token, entry.token_inferred = inferred, True
        return inferred

    async def forward(self, request: Request, chat: ChatRequest, entry: LedgerEntry, rule: Rule) -> Answer | None:
        """The upstream's answer; None if the client left while it was being fetched.

        A held answer is fetched whole first, then held like a scripted one. Otherwise the
        fake forwards when it answers (after any delay) and relays the answer as it arrives.
        """
        # For a whole (non-streamed) answer, the first-token delay is part of `delay_s` (see `wait_before_answering`).
        first_token_delay_s = rule.first_token_delay_s if chat.stream else 0.0
        if self.state.cassette is not None:
            return self.replay(self.state.cassette, chat, entry, rule, first_token_delay_s)
        upstream = self.state.upstream
        if chat.api in ("anthropic", "gemini") and (upstream is None or not upstream.serves(chat.api)):
            return error_response(self.wire, 501, NOT_FORWARDED.format(api=chat.api.capitalize()))
        if upstream is None:
            return error_answer(NO_UPSTREAM)
        entry.forwarded = True
        body = await request.body()
        outgoing = upstream.request(request, chat.api, body)
        keep = None
        if self.state.recording is not None:
            keep = keeper(self.state.recording, request, body, chat, self.token_for(chat, entry))
        if rule.hold:
            return await unless_client_leaves(request, fetch(upstream, outgoing, chat.api, first_token_delay_s, keep))
        return relay(upstream, outgoing, chat.api, first_token_delay_s, keep)

    def replay(self, cassette: Cassette, chat: ChatRequest, entry: LedgerEntry, rule: Rule,
               first_token_delay_s: float) -> Answer:
        """The recorded answer to `chat`, with its token; on a miss, the auto mode's answer or an error."""
        token = self.token_for(chat, entry)
        exchange = cassette.find(chat)
        if self.state.replay_log is not None:
            self.state.replay_log.note(exchange is not None, chat, token)
        if exchange is not None:
            return replayed(exchange, token, first_token_delay_s)
        if self.state.on_miss == "fail":
            return error_response(self.wire, 400, MISSED.format(path=cassette.path))
        decided = auto_answer(rule.action if isinstance(rule.action, Auto) else self.auto_mode(), chat, token)
        if isinstance(decided, ToolCall):
            entry.tool_called = decided.name
        return prepare(chat, chat.answer_id, rule, self.wire, decided)


async def wait_before_answering(request: Request, entry: LedgerEntry, rule: Rule, *, stream: bool) -> bool:
    """Apply the rule's delay, then its hold (or hang); True if the client left meanwhile."""
    delay = rule.delay_s + (0.0 if stream else rule.first_token_delay_s)
    if delay > 0 and await client_left(request, seconds=delay):
        return True
    if rule.hold or isinstance(rule.action, Hang):
        entry.hold()
        return await client_left(request, until=entry.release_signal)
    return False


def structured_answer(action: Structured, chat: ChatRequest) -> Reply | ToolCall:
    """Structured output as the request asks for it: the forced tool's call where it forces
    exactly one tool (Anthropic's way), else JSON text."""
    forced = chat.tool_choice.names if chat.tool_choice.mode == "required" else None
    if forced is None and chat.tool_choice.mode == "required" and len(chat.tools) == 1:
        forced = frozenset([chat.tools[0].name])
    if forced is not None and len(forced) == 1:
        value = action.value
        return ToolCall(next(iter(forced)), value if isinstance(value, dict) else {"value": value})
    return Reply(json.dumps(action.value))


def prepare(chat: ChatRequest, answer_id: str, rule: Rule, wire: Wire, action: Action | None = None, *,
            unfinished: bool = False) -> Answer:
    """Compute the answer a rule gives (`action`, if given: what its auto action decided).
    A released hang answers with the default reply. `unfinished`: a stream ends after its
    content, with no terminating event (a whole answer says so by having no finish)."""
    action = rule.action if action is None else action
    if isinstance(action, Forward | Auto | BadAnswer | Structured):
        raise TypeError(f"prepare answers a decided action; {action.type} is decided by LLMEndpoint first")
    if isinstance(action, Hang):
        action = Reply(DEFAULT_REPLY)
    if isinstance(action, Failure):
        return error_response(wire, action.status, action.message, action.retry_after, action.code)
    if isinstance(action, Malformed):
        if chat.stream:
            return Answer(Response(wire.malformed_stream, media_type="text/event-stream"), "malformed")
        return Answer(Response(MALFORMED_BODY, media_type="application/json"), "malformed")
    if isinstance(action, StreamCut):
        body = wire.body(chat, answer_id, Reply(action.content))
        if chat.stream:
            events = wire.events(chat, body)
            sent = events[: min(action.after_chunks, len(events) - 1)]  # never the terminating event
            cut = CutResponse(sent, "text/event-stream", first_token_delay_s=rule.first_token_delay_s)
        else:
            whole = json.dumps(body).encode()
            cut = CutResponse([whole[: len(whole) // 2]], "application/json", content_length=len(whole))
        return Answer(cut, "cut")
    body = wire.body(chat, answer_id, action)
    if chat.stream:
        events = wire.unfinished(body) if unfinished else wire.events(chat, body)
        streamed = stream_events(events, rule.first_token_delay_s)
        return Answer(StreamingResponse(streamed, media_type="text/event-stream"), "ok", body, wire.usage(body))
    whole = JSONResponse(body)
    return Answer(whole, "ok", body, wire.usage(body), body_json=whole.body)


def error_response(wire: Wire, status: int, message: str | None, retry_after: float | None = None,
                   code: str | None = None) -> Answer:
    """An error answer in the protocol's shape, with `Retry-After` if given."""
    body = wire.error_body(status, message, code)
    headers = {} if retry_after is None else {"Retry-After": _seconds(retry_after)}
    response = JSONResponse(body, status, headers)
    return Answer(response, "error", body, body_json=response.body)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --- control API -------------------------------------------------------------------------


class ControlAPI:
    """`/_fake/...`: script the rules, read the ledger, release held calls, reset."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def list_rules(self, request: Request) -> Response:
        return JSONResponse(self.state.rules.to_json())

    async def replace_rules(self, request: Request) -> Response:
        try:
            data = await request.json()
            if not isinstance(data, list):
                raise ValueError(f"PUT /_fake/rules takes a JSON list of rules, got {type(data).__name__}")
            rules = [Rule.from_json(item) for item in data]
        except ValueError as exc:
            return _problem(400, str(exc))
        self.state.rules.replace(rules)
        return JSONResponse(self.state.rules.to_json())

    async def add_rule(self, request: Request) -> Response:
        """`POST /_fake/rules[?position=first]`: add after all rules (default) or in front of them."""
        position = request.query_params.get("position", "last")
        if position not in ("first", "last"):
            return _problem(400, f"position must be 'first' or 'last' (the default), got {position!r}")
        try:
            rule = Rule.from_json(await request.json())
        except ValueError as exc:
            return _problem(400, str(exc))
        added = self.state.rules.add(rule, first=position == "first")
        index = self.state.rules.index_of(added.id)
        return JSONResponse({"id": added.id, "index": index, "rule": rule.to_json()}, 201)

    async def remove_rule(self, request: Request) -> Response:
        """`DELETE /_fake/rules/{id}`: remove exactly that rule; the others keep their order and hits."""
        rule_id = RuleId(request.path_params["rule_id"])
        removed = self.state.rules.remove(rule_id)
        if removed is None:
            current = ", ".join(self.state.rules.ids) or "none"
            message = f"no rule with id {rule_id!r} (removed already, or reset?); the current rule ids: {current}"
            return _problem(404, message)
        return JSONResponse(removed.to_json())

    async def list_calls(self, request: Request) -> Response:
        entries = self.state.ledger.entries(token=request.query_params.get("token"))
        return JSONResponse([entry.to_json() for entry in entries])

    async def get_call(self, request: Request) -> Response:
        entry = self.state.ledger.get(request.path_params["call_id"])
        if entry is None:
            return _problem(404, f"no call {request.path_params['call_id']}")
        return JSONResponse(entry.to_json())

    async def release(self, request: Request) -> Response:
        call_id = request.path_params["call_id"]
        entry = self.state.ledger.get(call_id)
        if entry is None:
            return _problem(404, f"no call {call_id}")
        if not entry.held:
            return _problem(409, f"call {call_id} is not held (outcome: {entry.outcome})")
        entry.release()
        return JSONResponse(entry.to_json())

    async def release_all(self, request: Request) -> Response:
        return JSONResponse({"released": self.state.ledger.release_all()})

    async def info(self, request: Request) -> Response:
        return JSONResponse({"upstream": None if self.state.upstream is None else self.state.upstream.base_url})

    async def reset(self, request: Request) -> Response:
        released = self.state.ledger.release_all()
        self.state.ledger.clear()
        self.state.rules.clear()
        return JSONResponse({"released": released})


def _problem(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status)

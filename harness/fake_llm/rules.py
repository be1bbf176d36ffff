"""Rules: what the fake LLM answers to which request.

A rule is a match (which requests), an action (what to answer) and options (how often,
how late, whether to hold the answer until the harness releases it). The first rule
that matches wins, in rule-book order (added last unless put first); rules travel as
JSON because the harness posts them over HTTP. The rule book gives each rule an id, so
whoever added a rule (a fault) can later remove exactly that rule, and nothing else.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NewType

from harness.fake_llm.chat import ChatRequest

DEFAULT_REPLY = "OK."
# What a cut answer would have said, had it not been cut: several words, so a stream has several chunks.
DEFAULT_CUT_TEXT = "This answer is cut off before it ends, so the client never sees all of it."


# --- match -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """Which requests a rule applies to. Every field that is set must hold; none set matches all."""

    contains: str | None = None
    system_contains: str | None = None
    model: str | None = None
    has_tools: bool | None = None
    token: str | None = None

    def matches(self, request: ChatRequest) -> bool:
        return (
            (self.contains is None or any(self.contains in text for text in request.texts))
            and (
                self.system_contains is None
                or any(self.system_contains in text for text in request.system_texts)
            )
            and (self.model is None or self.model == request.model)
            and (self.has_tools is None or self.has_tools == request.has_tools)
            and (self.token is None or self.token == request.token)
        )

    def to_json(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if value is not None}

    @classmethod
    def from_json(cls, data: Any) -> Match:
        data = _object(data, "match")
        _only(data, {"contains", "system_contains", "model", "has_tools", "token"}, "match")
        for name in ("contains", "system_contains", "model", "token"):
            _optional(data, name, str)
        _optional(data, "has_tools", bool)
        return cls(**data)


# --- actions -----------------------------------------------------------------------------


Finish = Literal["stop", "length", "refusal", "none"]
FINISHES = ("stop", "length", "refusal", "none")


@dataclass(frozen=True)
class Reply:
    """Answer with assistant text.

    `finish` says how the model stopped, in each protocol's words: "stop" (it was done),
    "length" (cut at the token limit: `finish_reason: length`, `max_tokens`, `MAX_TOKENS`),
    "refusal" (the content is a refusal: OpenAI's `refusal`, Anthropic's `stop_reason:
    refusal`, Gemini's `SAFETY`) or "none" (no finish at all: an answer that just stops)."""

    content: str
    finish: Finish = "stop"
    type: Literal["reply"] = field(default="reply", init=False)


@dataclass(frozen=True)
class ToolCall:
    """Answer with one tool call (OpenAI `tool_calls`, `finish_reason: "tool_calls"`).

    `arguments` as a string is sent as it is, not JSON-encoded: what a model's invalid
    arguments look like. `finish` as for `Reply` ("stop": the protocol's tool-call finish)."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    finish: Finish = "stop"
    type: Literal["tool_call"] = field(default="tool_call", init=False)


@dataclass(frozen=True)
class Structured:
    """Answer with structured output: `value` as JSON text, or, where the request forces a
    single tool (Anthropic's way to ask for structured output), as that tool's arguments."""

    value: Any
    type: Literal["structured"] = field(default="structured", init=False)


Flaw = Literal["empty", "truncated", "refusal", "bad_tool_args", "schema_violation", "wrong_tool", "early_end"]
FLAWS: tuple[Flaw, ...] = (
    "empty", "truncated", "refusal", "bad_tool_args", "schema_violation", "wrong_tool", "early_end",
)


@dataclass(frozen=True)
class BadAnswer:
    """Answer with what the auto mode would have answered, spoilt by `flaw` (see
    `harness.fake_llm.flaws`): an answer that arrives whole and well-formed on the wire,
    and is still wrong, the way real models' answers go wrong."""

    flaw: Flaw
    type: Literal["bad_answer"] = field(default="bad_answer", init=False)

    def __post_init__(self) -> None:
        if self.flaw not in FLAWS:
            raise ValueError(f"a bad answer's flaw must be one of {', '.join(FLAWS)}; got {self.flaw!r}")


@dataclass(frozen=True)
class Failure:
    """Answer with an HTTP error and an OpenAI-style error body."""

    status: int
    retry_after: float | None = None
    message: str | None = None
    # The provider's error code ("context_length_exceeded", "invalid_api_key"): each protocol
    # words its error for it, unless `message` is given.
    code: str | None = None
    type: Literal["error"] = field(default="error", init=False)

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError(f"an error status must be 400-599, got {self.status}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"retry_after must be >= 0 seconds, got {self.retry_after}")


@dataclass(frozen=True)
class Malformed:
    """Answer 200 with a body that is not valid JSON."""

    type: Literal["malformed"] = field(default="malformed", init=False)


@dataclass(frozen=True)
class Hang:
    """Never answer, until the harness releases the call (then: the default reply) or the client leaves."""

    type: Literal["hang"] = field(default="hang", init=False)


@dataclass(frozen=True)
class StreamCut:
    """Start answering `content`, then drop the connection before the answer is complete.

    A streamed request gets `after_chunks` server-sent events (never the terminating one:
    `[DONE]` for chat completions, `response.completed` for the Responses API), a
    non-streamed one the headers and the first half of the body; then the connection closes.
    The ledger records the call as outcome "cut".
    """

    after_chunks: int = 2
    content: str = DEFAULT_CUT_TEXT
    type: Literal["stream_cut"] = field(default="stream_cut", init=False)

    def __post_init__(self) -> None:
        if self.after_chunks < 0:
            raise ValueError(f"after_chunks must be >= 0, got {self.after_chunks}")


@dataclass(frozen=True)
class Forward:
    """Answer with what the upstream (the real LLM the fake was started with, `--upstream`) answers.

    The request goes upstream unchanged, with the agent's own `Authorization`; the answer
    comes back as it is (a stream chunk by chunk). Without an upstream: a 502 saying so.
    """

    type: Literal["forward"] = field(default="forward", init=False)


@dataclass(frozen=True)
class Auto:
    """Answer like a plausible LLM, unscripted: a tool call or a short text (see `harness.fake_llm.auto`).

    Offered function tools, the model calls one (chosen by `seed` and the request) with
    arguments valid against its schema, until the conversation holds `tool_rounds` tool
    results; then it answers in text. A `tool_choice` that requires a tool keeps it calling
    tools, but never once the conversation holds `max_tool_rounds` results, so no agent loops
    forever. Identical requests get identical answers; every answer carries the request's
    correlation token.
    """

    seed: int = 0
    tool_rounds: int = 1
    max_tool_rounds: int = 3
    prefer: str | None = None  # call this tool whenever it is offered (explores one branch of a router)
    type: Literal["auto"] = field(default="auto", init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.tool_rounds <= self.max_tool_rounds:
            raise ValueError(
                f"auto needs 0 <= tool_rounds <= max_tool_rounds, got {self.tool_rounds} and {self.max_tool_rounds}"
            )


Action = Reply | ToolCall | Structured | BadAnswer | Failure | Malformed | Hang | StreamCut | Forward | Auto


def tool_call(name: str, arguments: Mapping[str, Any] | None = None) -> ToolCall:
    """A tool-call answer: `llm.on(has_tools=True).reply(tool_call("BillingAgent", {"reason": "refund"}))`."""
    return ToolCall(name, dict(arguments or {}))


def action_to_json(action: Action) -> dict[str, Any]:
    data: dict[str, Any] = {"type": action.type}
    if isinstance(action, Reply):
        data["content"] = action.content
    elif isinstance(action, ToolCall):
        arguments = action.arguments if isinstance(action.arguments, str) else dict(action.arguments)
        data.update(name=action.name, arguments=arguments)
    elif isinstance(action, Structured):
        data["value"] = action.value
    elif isinstance(action, BadAnswer):
        data["flaw"] = action.flaw
    elif isinstance(action, Failure):
        data.update(status=action.status, retry_after=action.retry_after, message=action.message)
        if action.code is not None:
            data["code"] = action.code
    if isinstance(action, Reply | ToolCall) and action.finish != "stop":
        data["finish"] = action.finish
    elif isinstance(action, StreamCut):
        data.update(after_chunks=action.after_chunks, content=action.content)
    elif isinstance(action, Auto):
        data.update(seed=action.seed, tool_rounds=action.tool_rounds, max_tool_rounds=action.max_tool_rounds)
        if action.prefer is not None:
            data["prefer"] = action.prefer
    return data


def action_from_json(data: Any) -> Action:
    data = _object(data, "action")
    kind = data.get("type")
    if kind == "reply":
        _only(data, {"type", "content", "finish"}, "reply action")
        return Reply(_required(data, "content", str), _finish(data))
    if kind == "tool_call":
        _only(data, {"type", "name", "arguments", "finish"}, "tool_call action")
        arguments = data.get("arguments", {})
        if not isinstance(arguments, dict | str):
            raise ValueError(f"tool_call arguments must be a JSON object (or a string sent as is), got {arguments!r}")
        return ToolCall(_required(data, "name", str), arguments, _finish(data))
    if kind == "structured":
        _only(data, {"type", "value"}, "structured action")
        if "value" not in data:
            raise ValueError("missing field 'value'")
        return Structured(data["value"])
    if kind == "bad_answer":
        _only(data, {"type", "flaw"}, "bad_answer action")
        return BadAnswer(_required(data, "flaw", str))
    if kind == "error":
        _only(data, {"type", "status", "retry_after", "message", "code"}, "error action")
        retry_after = _optional(data, "retry_after", (int, float))
        return Failure(_required(data, "status", int), retry_after, _optional(data, "message", str),
                       _optional(data, "code", str))
    if kind == "malformed":
        _only(data, {"type"}, "malformed action")
        return Malformed()
    if kind == "hang":
        _only(data, {"type"}, "hang action")
        return Hang()
    if kind == "forward":
        _only(data, {"type"}, "forward action")
        return Forward()
    if kind == "stream_cut":
        _only(data, {"type", "after_chunks", "content"}, "stream_cut action")
        _optional(data, "after_chunks", int)
        _optional(data, "content", str)
        return StreamCut(**{name: data[name] for name in ("after_chunks", "content") if data.get(name) is not None})
    if kind == "auto":
        options = ("seed", "tool_rounds", "max_tool_rounds")
        _only(data, {"type", "prefer", *options}, "auto action")
        for name in options:
            _optional(data, name, int)
        _optional(data, "prefer", str)
        return Auto(**{name: data[name] for name in (*options, "prefer") if data.get(name) is not None})
    raise ValueError(
        "action type must be one of reply, tool_call, structured, bad_answer, error, malformed, hang, stream_cut, "
        f"forward, auto; got {kind!r}"
    )


def _finish(data: dict[str, Any]) -> Finish:
    finish = _optional(data, "finish", str) or "stop"
    if finish not in FINISHES:
        raise ValueError(f"finish must be one of {', '.join(FINISHES)}; got {finish!r}")
    return finish


# --- rule --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A match, an action, and the options that shape how the action is delivered.

    `times=None` means unlimited; once a rule has matched `times` times it no longer matches.
    `hold=True` computes the answer but sends it only when the harness releases the call.
    `delay_s` sleeps before answering; `first_token_delay_s` delays the first streamed chunk
    (for a non-streamed call it simply adds to the delay: the whole answer is the first token).
    `skip=n` lets the first n matching requests fall through to later rules, so a rule can
    aim at the n+1-th call of a kind ("fail the second LLM call").
    """

    action: Action
    match: Match = Match()
    times: int | None = None
    hold: bool = False
    delay_s: float = 0.0
    first_token_delay_s: float = 0.0
    skip: int = 0

    def __post_init__(self) -> None:
        if self.skip < 0:
            raise ValueError(f"skip must be >= 0, got {self.skip}")
        if self.times is not None and self.times < 0:
            raise ValueError(f"times must be >= 0 or None (unlimited), got {self.times}")
        if self.delay_s < 0 or self.first_token_delay_s < 0:
            raise ValueError("delays must be >= 0 seconds")

    def to_json(self) -> dict[str, Any]:
        return {
            "match": self.match.to_json(),
            "action": action_to_json(self.action),
            "times": self.times,
            "hold": self.hold,
            "delay_s": self.delay_s,
            "first_token_delay_s": self.first_token_delay_s,
            **({"skip": self.skip} if self.skip else {}),
        }

    @classmethod
    def from_json(cls, data: Any) -> Rule:
        """Parse a rule; unknown keys are refused (a typo must not silently match everything).

        `id` and `hits`, which `GET /_fake/rules` adds, are accepted and ignored so rules round-trip.
        """
        data = _object(data, "rule")
        _only(data, {"match", "action", "times", "hold", "delay_s", "first_token_delay_s", "skip", "id", "hits"}, "rule")
        if "action" not in data:
            raise ValueError("a rule needs an action")
        return cls(
            action=action_from_json(data["action"]),
            match=Match.from_json(data.get("match") or {}),
            times=_optional(data, "times", int),
            hold=bool(_optional(data, "hold", bool)),
            delay_s=float(_optional(data, "delay_s", (int, float)) or 0.0),
            first_token_delay_s=float(_optional(data, "first_token_delay_s", (int, float)) or 0.0),
            skip=int(_optional(data, "skip", int) or 0),
        )


DEFAULT_RULE = Rule(Reply(DEFAULT_REPLY))
FORWARD_RULE = Rule(Forward())
AUTO_RULE = Rule(Auto())


RuleId = NewType("RuleId", str)
"""A rule's id in one fake process's rule book ("r1", "r2", ...): assigned on adding, never reused."""


@dataclass(frozen=True)
class ScriptedRule:
    """A rule as the rule book holds it: its id, the rule, and how many requests it has answered."""

    id: RuleId
    rule: Rule
    hits: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id} | self.rule.to_json() | {"hits": self.hits}

    @classmethod
    def from_json(cls, data: Any) -> ScriptedRule:
        data = _object(data, "scripted rule")
        return cls(RuleId(_required(data, "id", str)), Rule.from_json(data), int(_optional(data, "hits", int) or 0))


@dataclass(frozen=True)
class Picked:
    """The rule that answers a request, its id and its position in the rule book (both None: the default)."""

    rule: Rule
    index: int | None
    id: RuleId | None = None


@dataclass
class _Slot:
    id: RuleId
    rule: Rule
    hits: int = 0
    skipped: int = 0


class RuleBook:
    """The fake's current rules, each with its id and how often it has matched (so `times` can run out).

    `default` answers requests no rule matches: the default reply, or, when the fake has
    an upstream, forwarding (so scripted faults apply to some calls and the real LLM answers the rest).
    Nothing here awaits, so each change is atomic with respect to the requests being answered.
    """

    def __init__(self, default: Rule = DEFAULT_RULE) -> None:
        self.default = default
        self._slots: list[_Slot] = []
        self._numbers = itertools.count(1)  # ids are never reused, not even after a reset

    def replace(self, rules: Iterable[Rule]) -> list[RuleId]:
        """Put these rules in place of all current ones; each gets a fresh id (returned, in order)."""
        self._slots = [_Slot(self._next_id(), rule) for rule in rules]
        return [slot.id for slot in self._slots]

    def add(self, rule: Rule, *, first: bool = False) -> ScriptedRule:
        """Add a rule after all others, or (`first`) in front of them; returns it with its id."""
        slot = _Slot(self._next_id(), rule)
        if first:
            self._slots.insert(0, slot)
        else:
            self._slots.append(slot)
        return ScriptedRule(slot.id, rule)

    def index_of(self, rule_id: RuleId) -> int | None:
        return next((index for index, slot in enumerate(self._slots) if slot.id == rule_id), None)

    def remove(self, rule_id: RuleId) -> ScriptedRule | None:
        """Remove exactly this rule (and its hit count); returns what it was, or None if there is no such rule."""
        index = self.index_of(rule_id)
        if index is None:
            return None
        slot = self._slots.pop(index)
        return ScriptedRule(slot.id, slot.rule, slot.hits)

    def clear(self) -> None:
        self.replace([])

    @property
    def ids(self) -> list[RuleId]:
        return [slot.id for slot in self._slots]

    def pick(self, request: ChatRequest) -> Picked:
        """The first rule (in rule-book order) that matches and has uses left; counts the use."""
        for index, slot in enumerate(self._slots):
            exhausted = slot.rule.times is not None and slot.hits >= slot.rule.times
            if not exhausted and slot.rule.match.matches(request):
                if slot.skipped < slot.rule.skip:
                    slot.skipped += 1
                    continue
                slot.hits += 1
                return Picked(slot.rule, index, slot.id)
        return Picked(self.default, None)

    def __iter__(self) -> Iterator[ScriptedRule]:
        return iter([ScriptedRule(slot.id, slot.rule, slot.hits) for slot in self._slots])

    def to_json(self) -> list[dict[str, Any]]:
        return [scripted.to_json() for scripted in self]

    def _next_id(self) -> RuleId:
        return RuleId(f"r{next(self._numbers)}")


# --- JSON checking helpers ---------------------------------------------------------------


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"a {what} must be a JSON object, got {data!r}")
    return dict(data)


def _only(data: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"unknown {what} field(s) {unknown}; allowed: {sorted(allowed)}")


def _required(data: dict[str, Any], name: str, kind: type) -> Any:
    if name not in data:
        raise ValueError(f"missing field {name!r}")
    return _optional(data, name, kind)


def _optional(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    bool_mismatch = isinstance(value, bool) and kind is not bool  # bool is an int in Python
    if value is not None and (bool_mismatch or not isinstance(value, kind)):
        raise ValueError(f"field {name!r} has the wrong type: {value!r}")
    return value

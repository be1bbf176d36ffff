"""Faults on the fake LLM: errors, hangs and cut streams on the wire, and bad answers in value."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

from harness.context import RunContext
from harness.fake_llm import BadAnswer, Failure, Hang, Malformed, Match, Reply, Rule, StreamCut, ToolCall
from harness.fake_llm.rules import Flaw
from harness.nemesis.triggers import AtStart, Trigger


@dataclass(frozen=True)
class LLMMatch:
    """Which LLM requests a fault hits: by model or by prompt (all given conditions hold)."""

    model: str | None = None
    contains: str | None = None
    system_contains: str | None = None
    has_tools: bool | None = None

    def rule(self, action: Any, times: int | None, **options: Any) -> Rule:
        match = Match(self.contains, self.system_contains, self.model, self.has_tools, None)
        return Rule(action, match=match, times=times, **options)


# A call that offers tools: the only kind a wrong tool or bad tool arguments can answer
# (the reference routers' routing decision).
OFFERS_TOOLS = LLMMatch(has_tools=True)


@dataclass(frozen=True)
class _LLMFault:
    """The fake LLM misbehaves for the next ``times`` matching calls (``None``: until undone).
    The fault's rule goes in front of the script's rules; undoing removes it."""

    kind: ClassVar[str]
    target: str = "llm"
    match: LLMMatch = LLMMatch()
    times: int | None = 1
    when: Trigger = AtStart()
    until: Trigger | None = None
    skip: int = 0  # let this many matching calls through first: aims the fault at call skip+1

    def rule(self) -> Rule:
        raise NotImplementedError

    def apply(self, run: RunContext) -> dict[str, Any]:
        # In front of the script's rules; undone by removing this very rule, atomically.
        rule_id = run.llm.add_rule(replace(self.rule(), skip=self.skip), first=True)
        return {"times": self.times, "rule_id": str(rule_id), **{k: v for k, v in asdict(self.match).items() if v is not None}}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.llm.remove_rule(applied["rule_id"])


@dataclass(frozen=True)
class LLMRateLimited(_LLMFault):
    """HTTP 429 with ``Retry-After``."""

    kind: ClassVar[str] = "llm_429"
    retry_after_s: float = 0

    def rule(self) -> Rule:
        return self.match.rule(Failure(429, retry_after=self.retry_after_s, message="rate limited"), self.times)


@dataclass(frozen=True)
class LLMServerError(_LLMFault):
    """HTTP 500 or 503."""

    kind: ClassVar[str] = "llm_5xx"
    status: int = 503

    def rule(self) -> Rule:
        return self.match.rule(Failure(self.status, message="the model is overloaded"), self.times)


@dataclass(frozen=True)
class LLMHang(_LLMFault):
    """No answer at all: the agent's client must time out (``OPENAI_TIMEOUT_S``)."""

    kind: ClassVar[str] = "llm_hang"

    def rule(self) -> Rule:
        return self.match.rule(Hang(), self.times)


@dataclass(frozen=True)
class LLMSlowFirstToken(_LLMFault):
    """The answer comes, but its first token only after ``delay_s``. ``answer`` is what the
    script would have answered (the fault changes timing, not content)."""

    kind: ClassVar[str] = "llm_slow_first_token"
    answer: str | ToolCall = "OK."
    delay_s: float = 2.0

    def rule(self) -> Rule:
        return self.match.rule(Reply(self.answer), self.times, first_token_delay_s=self.delay_s)


@dataclass(frozen=True)
class LLMMalformed(_LLMFault):
    """HTTP 200 with a body that is not JSON."""

    kind: ClassVar[str] = "llm_malformed"

    def rule(self) -> Rule:
        return self.match.rule(Malformed(), self.times)


@dataclass(frozen=True)
class LLMStreamCut(_LLMFault):
    """The answer starts, then the connection drops midway (a streamed answer loses its end,
    a plain one half its body)."""

    kind: ClassVar[str] = "llm_stream_cut"
    after_chunks: int = 2

    def rule(self) -> Rule:
        return self.match.rule(StreamCut(self.after_chunks), self.times)


# --- the LLM's answers: well-formed on the wire, wrong in value ---------------------------


@dataclass(frozen=True)
class _BadAnswerFault(_LLMFault):
    """The answer arrives whole, with status 200, and is still wrong: the auto answer spoilt
    by ``flaw`` (``harness.fake_llm.flaws``), in the protocol's own shape."""

    flaw: ClassVar[Flaw]

    def rule(self) -> Rule:
        return self.match.rule(BadAnswer(self.flaw), self.times)


@dataclass(frozen=True)
class LLMEmpty(_BadAnswerFault):
    """An empty answer: no content, no tool call, finished normally."""

    kind: ClassVar[str] = "llm_empty"
    flaw: ClassVar[Flaw] = "empty"


@dataclass(frozen=True)
class LLMTruncated(_BadAnswerFault):
    """Half the answer, cut at the token limit (``finish_reason: length``, ``max_tokens``)."""

    kind: ClassVar[str] = "llm_truncated"
    flaw: ClassVar[Flaw] = "truncated"


@dataclass(frozen=True)
class LLMRefusal(_BadAnswerFault):
    """A refusal instead of an answer (``refusal``, ``content_filter``, ``SAFETY``)."""

    kind: ClassVar[str] = "llm_refusal"
    flaw: ClassVar[Flaw] = "refusal"


@dataclass(frozen=True)
class LLMBadToolArgs(_BadAnswerFault):
    """A tool call whose arguments are not JSON."""

    kind: ClassVar[str] = "llm_bad_tool_args"
    flaw: ClassVar[Flaw] = "bad_tool_args"


@dataclass(frozen=True)
class LLMSchemaViolation(_BadAnswerFault):
    """Valid JSON that the tool's parameters, or the requested output schema, refuse."""

    kind: ClassVar[str] = "llm_schema_violation"
    flaw: ClassVar[Flaw] = "schema_violation"


@dataclass(frozen=True)
class LLMWrongTool(_BadAnswerFault):
    """A call to a tool the request did not offer (the routing decision names an agent
    that does not exist); ``agent`` names it, or the fake picks a name no request offers."""

    kind: ClassVar[str] = "llm_wrong_tool"
    flaw: ClassVar[Flaw] = "wrong_tool"
    match: LLMMatch = OFFERS_TOOLS
    agent: str | None = None

    def rule(self) -> Rule:
        if self.agent is None:
            return super().rule()
        return self.match.rule(ToolCall(self.agent, {}), self.times)


@dataclass(frozen=True)
class LLMStreamEarlyEnd(_BadAnswerFault):
    """The answer stops halfway with no error: a stream without its final chunk (no finish
    reason, no ``[DONE]``), a whole answer without a finish reason."""

    kind: ClassVar[str] = "llm_stream_early_end"
    flaw: ClassVar[Flaw] = "early_end"


@dataclass(frozen=True)
class LLMContextLength(_LLMFault):
    """HTTP 400: the prompt is longer than the model's context (``context_length_exceeded``)."""

    kind: ClassVar[str] = "llm_context_length"

    def rule(self) -> Rule:
        return self.match.rule(Failure(400, code="context_length_exceeded"), self.times)


@dataclass(frozen=True)
class LLMAuth(_LLMFault):
    """HTTP 401: the key is refused (a revoked or rotated key)."""

    kind: ClassVar[str] = "llm_auth"

    def rule(self) -> Rule:
        return self.match.rule(Failure(401, code="invalid_api_key"), self.times)


# The value faults: a 200 whose answer is wrong (the provider's errors are apart).
VALUE_FAULTS = (LLMEmpty, LLMTruncated, LLMRefusal, LLMBadToolArgs, LLMSchemaViolation, LLMWrongTool,
                LLMStreamEarlyEnd)

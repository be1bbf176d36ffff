"""The nemesis: faults as small values. Each has a target, a trigger that starts it and
a trigger that heals it, and leaves a ``FaultRecord`` of when it started and healed, so
the checker and the report read faults like any other event of the run.

What a fault does (``start``/``heal``) is kept apart from when (its triggers), as in
Jepsen: ``Pause`` is ``Kill`` with SIGSTOP/SIGCONT instead of SIGKILL/restart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import httpx

from .fake_llm import FakeLLM, Failure, Hang, Malformed, Match, Reply, Rule, StreamCut, ToolCall
from .triggers import After, AtStart, Trigger

if TYPE_CHECKING:
    from .live import RunContext


@dataclass
class FaultRecord:
    """One fault as it happened; times are epoch seconds (``at_s``/``healed_s`` in results
    are relative to the start of the workload)."""

    kind: str
    target: str
    started_at: float
    healed_at: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def overlaps(self, start: float, end: float | None) -> bool:
        """Did this fault's window intersect [start, end]? An open end means 'until now'."""
        healed = self.healed_at if self.healed_at is not None else float("inf")
        return start <= healed and (end is None or end >= self.started_at)


class Fault(Protocol):
    kind: ClassVar[str]
    target: str
    when: Trigger
    heal: Trigger | None

    def start(self, run: "RunContext") -> dict[str, Any]: ...

    def stop(self, run: "RunContext") -> None: ...


@dataclass(frozen=True)
class Kill:
    """SIGKILL the target's process group (an agent name, ``restate`` or ``llm``), then
    restart it on the same port (and, for ``restate``, the same data dir)."""

    kind: ClassVar[str] = "kill"
    target: str
    when: Trigger
    heal: Trigger | None = After(0.2)

    def start(self, run: "RunContext") -> dict[str, Any]:
        run.env.process(self.target).kill()
        return {}

    def stop(self, run: "RunContext") -> None:
        run.env.process(self.target).restart()


@dataclass(frozen=True)
class Terminate:
    """SIGTERM, escalating to SIGKILL after ``grace_s`` (a Python Restate app ignores
    SIGTERM once it has served a request), then restart."""

    kind: ClassVar[str] = "terminate"
    target: str
    when: Trigger
    heal: Trigger | None = After(0.2)
    grace_s: float = 2.0

    def start(self, run: "RunContext") -> dict[str, Any]:
        escalated = run.env.process(self.target).terminate(self.grace_s)
        return {"escalated_to_kill": escalated, "grace_s": self.grace_s}

    def stop(self, run: "RunContext") -> None:
        run.env.process(self.target).restart()


@dataclass(frozen=True)
class Pause:
    """SIGSTOP the target's group; SIGCONT when healed. The process keeps its sockets, so
    Restate sees silence, not a refused connection."""

    kind: ClassVar[str] = "pause"
    target: str
    when: Trigger
    heal: Trigger | None = After(1.0)

    def start(self, run: "RunContext") -> dict[str, Any]:
        run.env.process(self.target).pause()
        return {}

    def stop(self, run: "RunContext") -> None:
        run.env.process(self.target).resume()


@dataclass(frozen=True)
class Restart:
    """A graceful restart: SIGTERM (escalating to SIGKILL after ``grace_s``) and start again
    at once. The fault window is the time the target was down."""

    kind: ClassVar[str] = "restart"
    target: str
    when: Trigger
    heal: Trigger | None = After(0)
    grace_s: float = 2.0

    def start(self, run: "RunContext") -> dict[str, Any]:
        escalated = run.env.process(self.target).terminate(self.grace_s)
        return {"escalated_to_kill": escalated}

    def stop(self, run: "RunContext") -> None:
        run.env.process(self.target).start()


# --- links -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Toxic:
    """A Toxiproxy toxic on a link (``restate->router``, ``router->llm``, ``client->restate``…),
    from ``when`` until healed; ``heal=None`` keeps it to the end of the run."""

    kind: ClassVar[str]
    target: str
    when: Trigger = AtStart()
    heal: Trigger | None = None
    stream: str = "downstream"  # or "upstream": towards the proxied server

    def attributes(self) -> dict[str, Any]:
        raise NotImplementedError

    def start(self, run: "RunContext") -> dict[str, Any]:
        attributes = self.attributes()
        run.env.link(self.target).add_toxic(self.kind, stream=self.stream, **attributes)
        return {"stream": self.stream, **attributes}

    def stop(self, run: "RunContext") -> None:
        run.env.link(self.target).remove_toxic(f"{self.kind}_{self.stream}")


@dataclass(frozen=True)
class Latency(_Toxic):
    kind: ClassVar[str] = "latency"
    latency_ms: int = 300
    jitter_ms: int = 0

    def attributes(self) -> dict[str, Any]:
        return {"latency": self.latency_ms, "jitter": self.jitter_ms}


@dataclass(frozen=True)
class ResetPeer(_Toxic):
    """Connections are reset (TCP RST) when data flows, after ``timeout_ms``."""

    kind: ClassVar[str] = "reset_peer"
    timeout_ms: int = 0

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.timeout_ms}


@dataclass(frozen=True)
class Timeout(_Toxic):
    """Data stops flowing; the connection closes after ``timeout_ms`` (0: never)."""

    kind: ClassVar[str] = "timeout"
    timeout_ms: int = 0

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.timeout_ms}


@dataclass(frozen=True)
class Bandwidth(_Toxic):
    kind: ClassVar[str] = "bandwidth"
    rate_kb_s: int = 1

    def attributes(self) -> dict[str, Any]:
        return {"rate": self.rate_kb_s}


@dataclass(frozen=True)
class Slicer(_Toxic):
    """Data is cut into small packets with a delay between them."""

    kind: ClassVar[str] = "slicer"
    average_size: int = 16
    size_variation: int = 8
    delay_us: int = 2000

    def attributes(self) -> dict[str, Any]:
        return {"average_size": self.average_size, "size_variation": self.size_variation, "delay": self.delay_us}


@dataclass(frozen=True)
class LimitData(_Toxic):
    """The connection closes after ``bytes`` have passed."""

    kind: ClassVar[str] = "limit_data"
    bytes: int = 1024

    def attributes(self) -> dict[str, Any]:
        return {"bytes": self.bytes}


@dataclass(frozen=True)
class Partition:
    """The link goes down: its proxy stops listening and drops its connections."""

    kind: ClassVar[str] = "partition"
    target: str
    when: Trigger
    heal: Trigger | None = After(1.0)

    def start(self, run: "RunContext") -> dict[str, Any]:
        run.env.link(self.target).cut()
        return {}

    def stop(self, run: "RunContext") -> None:
        run.env.link(self.target).heal()


# --- the LLM ---------------------------------------------------------------------------


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


ROUTING = LLMMatch(has_tools=True)  # the routing decision: the only call that offers tools


@dataclass(frozen=True)
class _LLMFault:
    """The fake LLM misbehaves for the next ``times`` matching calls (``None``: until healed).
    The fault's rule goes in front of the script's rules; healing removes it."""

    kind: ClassVar[str]
    target: str = "llm"
    match: LLMMatch = LLMMatch()
    times: int | None = 1
    when: Trigger = AtStart()
    heal: Trigger | None = None

    def rule(self) -> Rule:
        raise NotImplementedError

    def start(self, run: "RunContext") -> dict[str, Any]:
        rule = self.rule()
        _put_first(run.env.llm, rule)
        return {"times": self.times, **{k: v for k, v in asdict(self.match).items() if v is not None}}

    def stop(self, run: "RunContext") -> None:
        llm = run.env.llm
        mine = replace(self.rule(), times=None)  # what is left of it has fewer times
        llm.replace_rules([r for r in _remaining_rules(llm) if replace(r, times=None) != mine])


def _remaining_rules(llm: FakeLLM) -> list[Rule]:
    """The current rules, with each ``times`` reduced by its hits, so that re-installing them
    keeps what was already used up."""
    rules = []
    for data in httpx.get(f"{llm.base_url}/_fake/rules", timeout=5).json():
        rule = Rule.from_json(data)
        if rule.times is not None:
            left = rule.times - int(data.get("hits", 0))
            if left <= 0:
                continue
            rule = replace(rule, times=left)
        rules.append(rule)
    return rules


def _put_first(llm: FakeLLM, rule: Rule) -> None:
    llm.replace_rules([rule, *_remaining_rules(llm)])


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
class LLMUnknownTool(_LLMFault):
    """The routing decision names an agent that does not exist."""

    kind: ClassVar[str] = "llm_unknown_tool"
    match: LLMMatch = ROUTING
    agent: str = "RefundsWizardAgent"

    def rule(self) -> Rule:
        return self.match.rule(ToolCall(self.agent, {}), self.times)




@dataclass(frozen=True)
class LLMStreamCut(_LLMFault):
    """The answer starts, then the connection drops midway (a streamed answer loses its end,
    a plain one half its body)."""

    kind: ClassVar[str] = "llm_stream_cut"
    after_chunks: int = 2

    def rule(self) -> Rule:
        return self.match.rule(StreamCut(self.after_chunks), self.times)

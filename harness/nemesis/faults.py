"""The nemesis: faults as small values. Each has a target, a trigger (``when``) that applies
it and a trigger (``until``) that undoes it, and the runner leaves a ``FaultRecord`` of when
it was applied and undone, so the checker and the report read faults like any other event.

What a fault does (``apply``/``undo``) is kept apart from when (its triggers), as in
Jepsen: ``Pause`` is ``Kill`` with SIGSTOP/SIGCONT instead of SIGKILL/restart. Faults only
touch the run through ``harness.context.RunContext``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar, Protocol, runtime_checkable

from harness.context import RunContext
from harness.errors import HarnessError
from harness.fake_llm import (
    BadAnswer,
    Failure,
    Hang,
    Malformed,
    Match,
    Reply,
    Rule,
    StreamCut,
    ToolCall,
)
from harness.fake_llm.rules import Flaw
from harness.nemesis.triggers import After, AtStart, Trigger
from harness.stubs.rules import ToolRule


class Fault(Protocol):
    """``apply`` does the damage and returns what the record keeps (and ``undo`` needs);
    ``undo`` restores the target. ``until=None`` keeps a fault to the end of the run."""

    kind: ClassVar[str]
    target: str
    when: Trigger
    until: Trigger | None

    def apply(self, run: RunContext) -> dict[str, Any]: ...

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None: ...


def describe(fault: Fault) -> str:
    """One line for a fault and its schedule, e.g. for results and reproduction."""
    until = fault.until.describe() if fault.until is not None else "the end of the run"
    return f"{fault.kind} {fault.target} when {fault.when.describe()}, undone {until}"


@dataclass(frozen=True)
class Kill:
    """SIGKILL the target's process group (an agent name, ``restate`` or ``llm``), then
    restart it on the same port (and, for ``restate``, the same data dir)."""

    kind: ClassVar[str] = "kill"
    target: str
    when: Trigger
    until: Trigger | None = After(0.2)

    def apply(self, run: RunContext) -> dict[str, Any]:
        run.process(self.target).kill()
        return {}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(self.target).restart()


@dataclass(frozen=True)
class Terminate:
    """SIGTERM, escalating to SIGKILL after ``grace_s`` (a Python Restate app ignores
    SIGTERM once it has served a request), then restart."""

    kind: ClassVar[str] = "terminate"
    target: str
    when: Trigger
    until: Trigger | None = After(0.2)
    grace_s: float = 2.0

    def apply(self, run: RunContext) -> dict[str, Any]:
        escalated = run.process(self.target).terminate(self.grace_s)
        return {"escalated_to_kill": escalated, "grace_s": self.grace_s}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(self.target).restart()


@dataclass(frozen=True)
class Pause:
    """SIGSTOP the target's group; SIGCONT when undone. The process keeps its sockets, so
    Restate sees silence, not a refused connection."""

    kind: ClassVar[str] = "pause"
    target: str
    when: Trigger
    until: Trigger | None = After(1.0)

    def apply(self, run: RunContext) -> dict[str, Any]:
        run.process(self.target).pause()
        return {}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(self.target).resume()


@dataclass(frozen=True)
class Restart:
    """A graceful restart: SIGTERM (escalating to SIGKILL after ``grace_s``) and start again
    at once. The fault window is the time the target was down."""

    kind: ClassVar[str] = "restart"
    target: str
    when: Trigger
    until: Trigger | None = After(0)
    grace_s: float = 2.0

    def apply(self, run: RunContext) -> dict[str, Any]:
        escalated = run.process(self.target).terminate(self.grace_s)
        return {"escalated_to_kill": escalated}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(self.target).start()


# --- links -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Toxic:
    """A Toxiproxy toxic on a link (``restate->router``, ``router->llm``, ``client->restate``…),
    from ``when`` until undone; ``until=None`` keeps it to the end of the run."""

    kind: ClassVar[str]
    target: str
    when: Trigger = AtStart()
    until: Trigger | None = None
    stream: str = "downstream"  # or "upstream": towards the proxied server

    def attributes(self) -> dict[str, Any]:
        raise NotImplementedError

    def apply(self, run: RunContext) -> dict[str, Any]:
        attributes = self.attributes()
        toxic = run.link(self.target).add_toxic(self.kind, stream=self.stream, **attributes)
        return {"stream": self.stream, "toxic": toxic, **attributes}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.link(self.target).remove_toxic(applied["toxic"])


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
    until: Trigger | None = After(1.0)

    def apply(self, run: RunContext) -> dict[str, Any]:
        run.link(self.target).cut()
        return {}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.link(self.target).restore()


# --- cluster nodes (--topology cluster) -------------------------------------------------


@runtime_checkable
class ClusterNodes(Protocol):
    """What node faults need of a Restate cluster (``harness.env.restate.cluster``): its
    node names, who leads or follows the partition of an invocation, the links that
    isolate a node, and waiting until every partition is led again. A cluster's node
    processes carry it as ``.cluster``."""

    def node_names(self) -> list[str]: ...
    def wait_until_ready(self) -> object: ...
    def leader_for(self, invocation_id: str | None) -> str: ...
    def follower_for(self, invocation_id: str | None) -> str: ...
    def links_of(self, node: str) -> list[str]: ...


NODE_ROLES = ("leader", "follower")


def cluster_of(run: RunContext) -> ClusterNodes:
    """The run's cluster, or one clear error when the run has a single server."""
    try:
        cluster = getattr(run.process("restate-1"), "cluster", None)
    except HarnessError:
        cluster = None
    if not isinstance(cluster, ClusterNodes):
        raise HarnessError("node faults need a Restate cluster: run with --topology cluster")
    return cluster


def first_in_flight(run: RunContext) -> str | None:
    """The run's first invocation that has not completed (else its first one; None before any)."""
    ids = run.invocation_ids()
    if not ids:
        return None
    rows = {inv.id: inv for inv in run.admin.invocations(ids)}
    return next((i for i in ids if i in rows and not rows[i].done), ids[0] if ids[0] in rows else None)


def resolve_node(run: RunContext, target: str) -> str:
    """A node fault's target as a node name: ``leader`` (of the partition the run's first
    in-flight invocation lives on), ``follower`` (a node that is not that leader, a
    replica of the partition if one is), or a node name (``restate-2``)."""
    cluster = cluster_of(run)
    if target in NODE_ROLES:
        invocation = first_in_flight(run)
        pick = cluster.leader_for if target == "leader" else cluster.follower_for
        try:
            return pick(invocation)
        except HarnessError:
            if invocation is None:
                raise
            return pick(None)  # not in the partition table yet: the first partition's
    if target not in cluster.node_names():
        raise HarnessError(f"unknown node {target!r}; known: {', '.join([*NODE_ROLES, *cluster.node_names()])}")
    return target


@dataclass(frozen=True)
class KillNode:
    """SIGKILL one restate-server node of the cluster (``leader``, ``follower`` or a node
    name, resolved when applied), then restart it on its data dir."""

    kind: ClassVar[str] = "kill_node"
    settles_after_undo: ClassVar[bool] = True  # the undo waits until every partition is led again
    target: str
    when: Trigger
    until: Trigger | None = After(0.5)

    def apply(self, run: RunContext) -> dict[str, Any]:
        node = resolve_node(run, self.target)
        run.process(node).kill()
        return {"node": node}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(applied["node"]).restart()
        cluster_of(run).wait_until_ready()  # rejoined, every partition led: the fault's window ends here


@dataclass(frozen=True)
class RestartNode:
    """A graceful restart of one node: SIGTERM (SIGKILL after ``grace_s``), then start
    again at once on its data dir."""

    kind: ClassVar[str] = "restart_node"
    settles_after_undo: ClassVar[bool] = True  # the undo waits until every partition is led again
    target: str
    when: Trigger
    until: Trigger | None = After(0)
    grace_s: float = 5.0

    def apply(self, run: RunContext) -> dict[str, Any]:
        node = resolve_node(run, self.target)
        escalated = run.process(node).terminate(self.grace_s)
        return {"node": node, "escalated_to_kill": escalated}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.process(applied["node"]).start()
        cluster_of(run).wait_until_ready()  # rejoined, every partition led: the fault's window ends here


@dataclass(frozen=True)
class IsolateNode:
    """Cut one node off from the other two: its inbound link goes down, so no peer (nor
    the node itself, through its advertised address) can reach it; restored when undone.
    See ``harness.env.restate.cluster`` for what a cut does and does not stop."""

    kind: ClassVar[str] = "isolate_node"
    settles_after_undo: ClassVar[bool] = True  # the undo waits until every partition is led again
    target: str
    when: Trigger
    until: Trigger | None = After(2.0)

    def apply(self, run: RunContext) -> dict[str, Any]:
        node = resolve_node(run, self.target)
        links = cluster_of(run).links_of(node)
        for name in links:
            run.link(name).cut()
        return {"node": node, "links": links}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        for name in applied["links"]:
            run.link(name).restore()
        cluster_of(run).wait_until_ready()


NODE_FAULTS = (KillNode, RestartNode, IsolateNode)


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
    match: LLMMatch = ROUTING
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


# --- tools: stubs, proxies and MCP servers ------------------------------------------------


@dataclass(frozen=True)
class _ToolFault:
    """The tool service ``target`` (a ``--stub``, ``--proxy`` or ``--mcp`` name) misbehaves for
    its next ``times`` calls (``None``: until undone), after letting ``skip`` through."""

    kind: ClassVar[str]
    target: str
    times: int | None = 1
    skip: int = 0
    tool: str | None = None  # only this tool (an MCP tool's name, or "METHOD /path")
    when: Trigger = AtStart()
    until: Trigger | None = None

    def rule(self) -> ToolRule:
        raise NotImplementedError

    def apply(self, run: RunContext) -> dict[str, Any]:
        rule_id = run.stub(self.target).add_rule(self.rule())
        return {"rule_id": rule_id, "times": self.times, "skip": self.skip, **({"tool": self.tool} if self.tool else {})}

    def undo(self, run: RunContext, applied: dict[str, Any]) -> None:
        run.stub(self.target).remove_rule(applied["rule_id"])


@dataclass(frozen=True)
class ToolError(_ToolFault):
    """A transient failure: HTTP ``status`` (a 429 with ``Retry-After``); over MCP, a tool
    result with ``isError`` (``mcp_error="result"``) or a JSON-RPC error (``"jsonrpc"``)."""

    kind: ClassVar[str] = "tool_error"
    status: int = 503
    retry_after_s: float | None = None
    mcp_error: str = "result"

    def rule(self) -> ToolRule:
        return ToolRule("error", status=self.status, retry_after_s=self.retry_after_s,
                        mcp_error=self.mcp_error, skip=self.skip, times=self.times, tool=self.tool)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ToolHang(_ToolFault):
    """No answer at all: only the agent's timeout (or Restate's abort) ends the call."""

    kind: ClassVar[str] = "tool_hang"

    def rule(self) -> ToolRule:
        return ToolRule("hang", skip=self.skip, times=self.times, tool=self.tool)


@dataclass(frozen=True)
class ToolSlow(_ToolFault):
    """The answer comes after ``delay_s``."""

    kind: ClassVar[str] = "tool_slow"
    delay_s: float = 2.0

    def rule(self) -> ToolRule:
        return ToolRule("slow", delay_s=self.delay_s, skip=self.skip, times=self.times, tool=self.tool)


@dataclass(frozen=True)
class ToolCut(_ToolFault):
    """The tool acts, then the connection drops before its answer is whole: the agent cannot
    know whether it happened."""

    kind: ClassVar[str] = "tool_cut"

    def rule(self) -> ToolRule:
        return ToolRule("cut", skip=self.skip, times=self.times, tool=self.tool)


@dataclass(frozen=True)
class ToolHold(_ToolFault):
    """Hold tool call ``skip + 1`` until the run releases it or the client leaves: the point
    a crash is aimed at (``Kill(..., when=ToolCallHeld(stub, k))``)."""

    kind: ClassVar[str] = "tool_hold"

    def rule(self) -> ToolRule:
        return ToolRule("hold", skip=self.skip, times=self.times, tool=self.tool)

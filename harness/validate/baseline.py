"""The baseline: a fault-free run of the agent, from which validation learns what the agent
does (its LLM calls in order, its journaled steps, its child calls, its side effects and
its final answer) and so where it can crash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.checker.checks import children_per_target, masked
from harness.checker.classify import classify_history
from harness.history import LLMCall
from harness.history import History


@dataclass(frozen=True)
class LLMCallPoint:
    """One LLM call of the baseline, and the deployment that made it (the owner of the
    step that journaled it, or the entry's when it was made outside any step)."""

    number: int  # 1-based, in arrival order
    service: str | None  # the service whose invocation made it
    # What the call asked of the model, as the fake read it: structured output
    # ("json_object", "json_schema", "strict_json_schema"), the tools offered and those of
    # them marked strict. They say which bad answers a real provider could give it.
    output_format: str | None = None
    tools: tuple[str, ...] = ()
    strict_tools: tuple[str, ...] = ()
    api: str = "chat"  # the protocol: OpenAI's ("chat", "responses") send tool arguments as JSON text
    stream: bool = False  # streamed: only a stream can end early with no error (a whole body has its end)

    @property
    def arguments_as_text(self) -> bool:
        """Does the provider send a tool call's arguments as JSON text the agent parses (OpenAI),
        rather than as an object it parsed itself (Anthropic's ``input``, Gemini's ``args``)?
        Only text can fail to parse."""
        return self.api in ("chat", "responses")

    @property
    def loose_output(self) -> bool:
        """Structured output the provider does not enforce: its answer may break the schema."""
        return self.output_format in ("json_object", "json_schema")

    @property
    def loose_tools(self) -> bool:
        """Tools offered of which some are not strict: their arguments may not parse."""
        return any(tool not in self.strict_tools for tool in self.tools)


@dataclass(frozen=True)
class ToolCallPoint:
    """One call of the baseline to a tool service (a stub, a proxy, an MCP server)."""

    stub: str  # the service's name (--stub/--proxy/--mcp NAME=...)
    number: int  # 1-based, in arrival order at that service
    tool: str  # an MCP tool's name, or "METHOD /path"
    protocol: str = "http"  # or "mcp"


@dataclass(frozen=True)
class Baseline:
    output: Any  # the answer, the token masked
    llm_calls: tuple[LLMCallPoint, ...]
    steps: tuple[tuple[str, str], ...]  # (service, step name) of every journaled step, in order
    children: tuple[tuple[str, int], ...]  # (target, count) of child work per request
    side_effects: int
    services: tuple[str, ...]  # every service in the call tree
    duration_s: float
    tools: tuple[str, ...] = ()  # the function tools offered at the first call that offered any
    chosen_tool: str | None = None  # the one the baseline's answer called
    # Per step (in ``steps``' order): the first LLM call that arrived after it completed, if any.
    # Holding that call keeps the request from finishing before a kill "right after the step" lands.
    call_after_step: tuple[int | None, ...] = ()
    # Per step: how long the request ran on after it (seconds). A kill "right after" a step
    # that the request ends a few milliseconds after, with no call to hold, cannot land in time.
    end_after_step_s: tuple[float, ...] = ()
    tool_calls: tuple[ToolCallPoint, ...] = ()
    # Did one more fault-free request give the same answer? Not when the model is shown
    # something that differs per request (a proxied service's own ids): then a different
    # answer under a fault proves nothing.
    repeatable: bool = True

    @classmethod
    def learn(cls, history: History) -> "Baseline":
        request = history.requests[0]
        root = history.invocation[request.invocation_id]
        services_of = {inv.id: inv.target.split("/")[0] for inv in history.invocations}
        owner = {c.call.id: services_of.get(c.step.invocation_id) for c in classify_history(history) if c.step}
        calls = sorted(history.llm_calls, key=lambda c: c.arrived_at)
        entry_service = root.target.split("/")[0]
        steps = sorted((s for s in history.steps if s.completed), key=lambda s: s.completed_at or 0.0)
        return cls(
            output=masked(history.outputs.get(root.id), request.token),
            llm_calls=tuple(LLMCallPoint(i + 1, owner.get(c.id) or entry_service, c.output_format, _offered(c),
                                         tuple(c.strict_tools), c.api, c.stream) for i, c in enumerate(calls)),
            steps=tuple((services_of.get(s.invocation_id, entry_service), s.name) for s in steps),
            children=tuple(sorted(children_per_target(history, request).items())),
            side_effects=len(history.stub_calls),
            services=tuple(dict.fromkeys(services_of[i] for i in history.tree_of(root.id))),
            duration_s=((root.completed_at or history.started_at) - history.started_at),
            **_first_tool_choice(calls),
            tool_calls=_tool_calls(history),
            call_after_step=tuple(
                next((i + 1 for i, c in enumerate(calls) if c.arrived_at > (s.completed_at or 0.0)), None) for s in steps),
            end_after_step_s=tuple(max(0.0, (root.completed_at or 0.0) - (s.completed_at or 0.0)) for s in steps)
            if root.completed_at else (),
        )

    def describe(self) -> str:
        return (f"{len(self.llm_calls)} LLM call(s), {len(self.steps)} journaled step(s), "
                f"{sum(n for _, n in self.children)} child call(s), {self.side_effects} side effect(s); "
                f"answer {str(self.output)[:80]!r}"
                + ("" if self.repeatable else "; a second fault-free request answered differently"))


def _tool_calls(history: History) -> tuple[ToolCallPoint, ...]:
    numbered: dict[str, int] = {}
    points = []
    for call in sorted(history.stub_calls, key=lambda c: c.arrived_at):
        numbered[call.service] = numbered.get(call.service, 0) + 1
        points.append(ToolCallPoint(call.service, numbered[call.service], call.tool or call.path, call.protocol))
    return tuple(points)


def _first_tool_choice(calls: list[LLMCall]) -> dict[str, Any]:
    """The tools offered at the first call that offered any, and the one its answer called:
    the branches a router can take."""
    for call in calls:
        if call.tools:  # the fake read them, in whichever protocol the agent speaks
            return {"tools": tuple(call.tools), "chosen_tool": call.tool_called or _called(call.response)}
        # A history recorded before the fake noted them: OpenAI's shapes.
        offered = [_tool_name(t) for t in call.request.get("tools") or [] if isinstance(t, dict)]
        offered = [name for name in offered if name]
        if offered:
            return {"tools": tuple(offered), "chosen_tool": _called(call.response)}
    return {}


def _offered(call: LLMCall) -> tuple[str, ...]:
    """The function tools a call offered (a history recorded before the fake noted them: OpenAI's shapes)."""
    if call.tools:
        return tuple(call.tools)
    return tuple(name for t in call.request.get("tools") or [] if isinstance(t, dict) and (name := _tool_name(t)))


def _tool_name(tool: dict[str, Any]) -> str | None:
    spec = tool.get("function") if isinstance(tool.get("function"), dict) else tool  # chat nests, Responses is flat
    name = spec.get("name") if tool.get("type") == "function" else None
    return name if isinstance(name, str) else None


def _called(response: Any) -> str | None:
    if not isinstance(response, dict):
        return None
    for choice in response.get("choices") or []:
        for tool_call in (choice.get("message") or {}).get("tool_calls") or []:
            return (tool_call.get("function") or {}).get("name")
    for item in response.get("output") or []:
        if isinstance(item, dict) and item.get("type") == "function_call":
            return item.get("name")
    return None

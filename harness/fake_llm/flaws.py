"""Bad answers: what the auto mode would have answered, spoilt the way real models' answers
go wrong while the HTTP exchange itself succeeds (the value faults of the taxonomy).

Each flaw turns the auto answer (a `Reply` or a `ToolCall`) into another; the endpoint then
shapes it for its protocol like any answer, so every flaw exists in every protocol:

- empty: no content at all, finished normally;
- truncated: the first half of the content (or of the tool call's JSON arguments), cut at
  the token limit (`finish_reason: length`, `max_tokens`, `MAX_TOKENS`, `incomplete`);
- refusal: a refusal instead of an answer (OpenAI's `refusal` or `content_filter`,
  Anthropic's `refusal`, Gemini's `SAFETY`);
- bad_tool_args: a tool call whose arguments are not JSON (with no tool offered: text that
  is not the JSON asked for);
- schema_violation: valid JSON that the tool's parameters (or the requested output
  schema) refuse;
- wrong_tool: a call to a tool the request did not offer;
- early_end: half the content and no finish at all (the stream just stops, without error).
"""

from __future__ import annotations

import json

from harness.fake_llm.chat import ChatRequest
from harness.fake_llm.instances import SchemaError, violation
from harness.fake_llm.rules import Flaw, Reply, ToolCall

REFUSAL = "I'm sorry, but I can't help with that request."
# A name no agent offers: the model calling a tool that does not exist.
UNOFFERED_TOOL = "lookup_internal_records"


def spoilt(flaw: Flaw, answer: Reply | ToolCall, request: ChatRequest, token: str | None) -> Reply | ToolCall:
    """`answer` with `flaw`; `token` goes where the flaw writes new strings."""
    if flaw == "empty":
        return Reply("")
    if flaw == "refusal":
        return Reply(REFUSAL, finish="refusal")
    if flaw in ("truncated", "early_end"):
        finish = "length" if flaw == "truncated" else "none"
        if isinstance(answer, ToolCall):
            return ToolCall(answer.name, _half(_arguments_text(answer)), finish)
        return Reply(_half(answer.content), finish)
    if flaw == "wrong_tool":
        offered = {tool.name for tool in request.tools}
        name = UNOFFERED_TOOL
        while name in offered:
            name += "_"
        return ToolCall(name, {"query": f"records {token}" if token else "records"})
    if flaw == "bad_tool_args":
        if isinstance(answer, ToolCall):
            return ToolCall(answer.name, _half(_arguments_text(answer)) or "{")
        if request.tools:
            return ToolCall(request.tools[0].name, '{"arguments": ')
        text = answer.content if answer.content.startswith(("{", "[")) else json.dumps({"answer": answer.content})
        return Reply(_half(text))
    return _violating(answer, request, token)


def _violating(answer: Reply | ToolCall, request: ChatRequest, token: str | None) -> Reply | ToolCall:
    """Valid JSON that breaks the schema that applies: the called tool's, else the output's."""
    tools = {tool.name: tool for tool in request.tools}
    if isinstance(answer, ToolCall) and answer.name in tools:
        return ToolCall(answer.name, _as_arguments(_violation(tools[answer.name].parameters, token, fallback={})))
    schema = request.output.schema if request.output is not None else None
    if schema is not None:
        return Reply(json.dumps(_violation(schema, token, fallback=[])))
    if request.output is not None:  # any JSON object was asked for
        return Reply(json.dumps([answer.content]))
    if request.tools:
        tool = request.tools[0]
        return ToolCall(tool.name, _as_arguments(_violation(tool.parameters, token, fallback={})))
    return answer  # nothing constrains a plain text answer: there is nothing to violate


def _violation(schema: object, token: str | None, *, fallback: object) -> object:
    try:
        return violation(schema, text=token)
    except SchemaError:
        return fallback


def _as_arguments(value: object) -> dict[str, object] | str:
    """Arguments that are no JSON object go out as their JSON text."""
    return value if isinstance(value, dict) else json.dumps(value)


def _arguments_text(call: ToolCall) -> str:
    return call.arguments if isinstance(call.arguments, str) else json.dumps(dict(call.arguments))


def _half(text: str) -> str:
    return text[: len(text) // 2]

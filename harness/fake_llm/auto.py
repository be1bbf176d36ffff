"""The auto mode: an answer for a request nobody scripted, so any agent runs against the fake unchanged.

Selected for a whole process (`python -m harness.fake_llm --auto`, `create_app(auto=True)`:
it answers whatever no rule matches) or by a rule (`llm.on(...).auto()`). It only decides
*what* to answer, a `Reply` or a `ToolCall`; the endpoint shapes that for its protocol
(chat completions, the Responses API, Anthropic Messages, Gemini), whole or streamed, like
any scripted answer.

- Deterministic: everything is derived from a hash of the seed and the request, its
  correlation token masked (model, messages or input or contents, tools), so
  requests that differ only in their token get the same answer, and identical requests,
  streamed or not, get identical answers.
- A tool call when function tools are offered (hosted tools are never called) and the
  conversation holds fewer than `tool_rounds` tool results (by default: none yet), so a
  router calls a tool once, then answers with the tool's result in text. The tool is picked
  by the hash, or is the one `tool_choice` names; `tool_choice: "none"` means text. A
  `tool_choice` that requires a tool gets tool calls up to `max_tool_rounds` results.
  The arguments are a valid instance of the tool's `parameters` schema
  (`harness.fake_llm.instances`); if the schema defeats the generator, the answer is text
  saying why.
- Structured output when the request asks for it and no tool is called: a valid instance
  of the output schema (its strings carry the token) as JSON text; for "any JSON object",
  `{"answer": "Auto answer ..."}`.
- Text otherwise: "Auto answer <hash> [<token>]".
- The correlation token: every answer (the text, every string in the arguments) carries the
  request's token. A request with none (a prompt built from an earlier answer only) uses
  the token the endpoint inferred from the ledger, if it could (`Ledger.sole_recent_token`).
"""

from __future__ import annotations

import hashlib
import json

from harness.fake_llm.chat import ChatRequest, FunctionTool
from harness.fake_llm.instances import SchemaError, instance
from harness.fake_llm.rules import Auto, Reply, ToolCall


def answer(auto: Auto, request: ChatRequest, token: str | None) -> Reply | ToolCall:
    """What the auto mode answers to `request`, carrying `token` (the request's, or an inferred one)."""
    digest = hashlib.sha256(f"{auto.seed}:{request.api}:{request.shape}".encode()).hexdigest()
    tool = chosen_tool(auto, request, digest)
    if tool is None:
        return structured(request, digest, token) or Reply(text(digest, token))
    try:
        arguments = instance(tool.parameters, text=token)
    except SchemaError as exc:
        return Reply(text(digest, token, note=f"no arguments for tool {tool.name!r}: {exc}"))
    if not isinstance(arguments, dict):
        return Reply(text(digest, token, note=f"tool {tool.name!r} takes {arguments!r}, not a JSON object"))
    return ToolCall(tool.name, arguments)


def structured(request: ChatRequest, digest: str, token: str | None) -> Reply | None:
    """The JSON answer to a request for structured output; None if it asks for none."""
    output = request.output
    if output is None:
        return None
    if output.schema is None:
        return Reply(json.dumps({"answer": text(digest, token)}))
    try:
        return Reply(json.dumps(instance(output.schema, text=token)))
    except SchemaError as exc:
        return Reply(text(digest, token, note=f"no instance of the output schema: {exc}"))


def text(digest: str, token: str | None, *, note: str | None = None) -> str:
    words = f"Auto answer {digest[:8]}" + (f" ({note})" if note else "")
    return f"{words} [{token}]" if token else f"{words}."


def chosen_tool(auto: Auto, request: ChatRequest, digest: str) -> FunctionTool | None:
    """The tool to call, or None to answer in text. Reads only the parsed view: each
    protocol's parser has read the tools, the tool choice and the tool results in its spelling."""
    offered = request.tools
    choice = request.tool_choice
    if choice.mode == "none" or not offered:
        return None
    rounds = auto.max_tool_rounds if choice.mode == "required" else auto.tool_rounds
    if request.tool_results >= rounds:
        return None
    # A name the request does not offer is ignored: calling an unknown tool only breaks the agent.
    allowed = [tool for tool in offered if choice.names is None or tool.name in choice.names] or list(offered)
    preferred = [tool for tool in allowed if tool.name == auto.prefer]
    return preferred[0] if preferred else allowed[int(digest[8:16], 16) % len(allowed)]

"""Gemini (`POST /v1beta/models/{model}:generateContent`, `...:streamGenerateContent`):
reading a request into the fake's view of it, and the wire shapes of the answer, whole or
streamed, and of an error.

Unlike the other protocols, the model and whether to stream travel in the path, not the
body. Only what clients such as `google-genai` or the Vercel AI SDK's Google provider need:
one candidate with one `text` or one `functionCall` part, `finishReason`, `usageMetadata`;
streamed (always as server-sent events, as `alt=sse` asks), the text in a few chunks, the
last one carrying the finish reason and the usage. Streaming is derived from the whole body,
so both forms of one answer always agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from harness.fake_llm.chat import (
    DEFAULT_MODEL,
    NO_PARAMETERS,
    ChatRequest,
    FunctionTool,
    OutputFormat,
    RequestError,
    ToolChoice,
    digest,
    estimate_tokens,
    find_token,
)
from harness.fake_llm.completions import pieces
from harness.fake_llm.rules import Reply, ToolCall

METHODS = {"generateContent": False, "streamGenerateContent": True}  # the method: whether it streams
# google.rpc status names by HTTP status (https://ai.google.dev/gemini-api/docs/troubleshooting).
_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_FINISH_REASONS = {"stop": "STOP", "length": "MAX_TOKENS"}
_MODES = {"NONE": "none", "ANY": "required"}  # AUTO and VALIDATED: the model's pick
# Proto int64 fields, which JSON may carry as strings ("minItems": "1").
_INTEGER_KEYWORDS = frozenset({"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"})
# Schema fields in their proto spelling, which google-genai sends ("min_items"), and their JSON Schema names.
_JSON_NAMES = {
    "any_of": "anyOf",
    "min_items": "minItems",
    "max_items": "maxItems",
    "min_length": "minLength",
    "max_length": "maxLength",
    "min_properties": "minProperties",
    "max_properties": "maxProperties",
    "property_ordering": "propertyOrdering",
}
_SUBSCHEMA_KEYWORDS = frozenset({"items", "anyOf", "oneOf", "allOf", "additionalProperties"})

# --- the request ---------------------------------------------------------------------------


def parse_request(body: dict[str, Any], token_pattern: re.Pattern[str], path: Mapping[str, str]) -> ChatRequest:
    """A generateContent request as rules, the auto mode and the ledger see it; `path["rest"]`
    is "{model}:{method}".

    Texts are `systemInstruction`'s (the system texts), then each content's text parts,
    `functionCall` args and `functionResponse` responses (both as JSON); each
    `functionResponse` part is a tool result. Fields are read in JSON (camelCase) or proto
    (snake_case) spelling, as the API accepts both.
    """
    model, _, method = path["rest"].rpartition(":")
    if not model or method not in METHODS:
        raise RequestError(404, f"fake LLM: no Gemini method {path['rest']!r}; it answers "
                                "models/{model}:generateContent and models/{model}:streamGenerateContent")
    instruction = _field(body, "systemInstruction", "system_instruction")
    system = [text for part in _parts(instruction) for text in _texts_of(part)]
    contents = body.get("contents")
    contents_list = contents if isinstance(contents, list) else []
    parts = [part for content in contents_list for part in _parts(content)]
    texts = system + [text for part in parts for text in _texts_of(part)]
    tools = body.get("tools")
    return ChatRequest(
        body=body,
        model=model,
        texts=tuple(texts),
        system_texts=tuple(system),
        has_tools=bool(tools),
        stream=METHODS[method],
        token=find_token(tuple(texts), token_pattern),
        fingerprint=digest({"model": model, "systemInstruction": instruction, "contents": contents, "tools": tools}),
        api="gemini",
        tools=_function_tools(tools),
        tool_choice=_tool_choice(body),
        tool_results=sum(1 for part in parts if _field(part, "functionResponse", "function_response") is not None),
        output=_output_format(_field(body, "generationConfig", "generation_config")),
    )


def _field(data: Any, json_name: str, proto_name: str) -> Any:
    if not isinstance(data, dict):
        return None
    value = data.get(json_name)
    return data.get(proto_name) if value is None else value


def _parts(content: Any) -> list[dict[str, Any]]:
    """A content's parts; a plain string (a system instruction, say) is one text part."""
    if isinstance(content, str):
        return [{"text": content}]
    parts = content.get("parts") if isinstance(content, dict) else None
    return [part for part in parts if isinstance(part, dict)] if isinstance(parts, list) else []


def _texts_of(part: dict[str, Any]) -> list[str]:
    if isinstance(part.get("text"), str):
        return [part["text"]]
    call = _field(part, "functionCall", "function_call")
    if isinstance(call, dict):
        return [json.dumps(call.get("args"), ensure_ascii=False)]
    result = _field(part, "functionResponse", "function_response")
    if isinstance(result, dict):
        return [json.dumps(result.get("response"), ensure_ascii=False)]
    return []


def _function_tools(tools: Any) -> tuple[FunctionTool, ...]:
    """The function declarations of every tool, in order; Google Search, code execution and
    the like are left out. `parametersJsonSchema` is JSON Schema already; `parameters` is
    Gemini's OpenAPI-style schema, normalized (`json_schema`)."""
    found = []
    for tool in tools if isinstance(tools, list) else []:
        for function in _field(tool, "functionDeclarations", "function_declarations") or []:
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                continue
            schema = _field(function, "parametersJsonSchema", "parameters_json_schema")
            if not isinstance(schema, dict):
                parameters = function.get("parameters")
                schema = json_schema(parameters) if isinstance(parameters, dict) else NO_PARAMETERS
            found.append(FunctionTool(function["name"], schema))
    return tuple(found)


def _output_format(config: Any) -> OutputFormat | None:
    """`generationConfig`: `responseJsonSchema` (JSON Schema) or `responseSchema` (Gemini's
    OpenAPI-style schema), or `responseMimeType: application/json` alone (any JSON). Gemini
    decodes to the schema: strict."""
    schema = _field(config, "responseJsonSchema", "response_json_schema")
    if not isinstance(schema, dict):
        schema = _field(config, "responseSchema", "response_schema")
        schema = json_schema(schema) if isinstance(schema, dict) else None
    if schema is not None:
        return OutputFormat("json_schema", schema, strict=True)
    if _field(config, "responseMimeType", "response_mime_type") == "application/json":
        return OutputFormat("json_object")
    return None


def _tool_choice(body: dict[str, Any]) -> ToolChoice:
    """`toolConfig.functionCallingConfig`: mode AUTO (the default), ANY (a tool, among
    `allowedFunctionNames` if given) or NONE."""
    config = _field(_field(body, "toolConfig", "tool_config"), "functionCallingConfig", "function_calling_config")
    mode = config.get("mode") if isinstance(config, dict) else None
    names = _field(config, "allowedFunctionNames", "allowed_function_names")
    allowed = frozenset(name for name in names if isinstance(name, str)) if isinstance(names, list) else None
    return ToolChoice(_MODES.get(mode.upper(), "auto") if isinstance(mode, str) else "auto", allowed or None)


def json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-style schema as JSON Schema, for `harness.fake_llm.instances`: types
    lower-cased ("OBJECT" is "object"), `nullable` as a "null" type, fields in their JSON
    Schema spelling (`min_items` is `minItems`), int64 bounds as numbers."""
    if not isinstance(schema, dict):
        return schema
    normal: dict[str, Any] = {}
    for proto_key, value in schema.items():
        key = _JSON_NAMES.get(proto_key, proto_key)
        if key == "properties" and isinstance(value, dict):
            normal[key] = {name: json_schema(item) for name, item in value.items()}
        elif key in _SUBSCHEMA_KEYWORDS:
            normal[key] = [json_schema(item) for item in value] if isinstance(value, list) else json_schema(value)
        elif key == "type" and isinstance(value, str):
            if value.upper() != "TYPE_UNSPECIFIED":
                normal[key] = value.lower()
        elif key in _INTEGER_KEYWORDS and isinstance(value, str) and value.isdigit():
            normal[key] = int(value)
        elif key != "nullable":
            normal[key] = value
    if schema.get("nullable") is True and isinstance(normal.get("type"), str):
        normal["type"] = [normal["type"], "null"]
    return normal


# --- the answer ------------------------------------------------------------------------------


def response_body(request: ChatRequest, answer_id: str, action: Reply | ToolCall) -> dict[str, Any]:
    """The `GenerateContentResponse` answering `request` with `action`. A function call gets
    an `id` (Gemini's is optional) so an agent that sends it back sends the same request again.
    A refusal is a candidate blocked for `SAFETY`, with no content; "none" has no finish reason."""
    part: dict[str, Any]
    if isinstance(action, Reply):
        part, completion_text = {"text": action.content}, action.content
    else:
        # Arguments given as a string (invalid JSON) go out as a string: `args` is no object then.
        arguments = action.arguments if isinstance(action.arguments, str) else dict(action.arguments)
        part = {"functionCall": {"id": f"call_{answer_id}", "name": action.name, "args": arguments}}
        completion_text = action.name + json.dumps(arguments)
    prompt_tokens = request.prompt_tokens
    output_tokens = estimate_tokens(completion_text)
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
    if action.finish == "refusal":
        candidate = {"finishReason": "SAFETY", "index": 0, "safetyRatings": [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]}
    elif action.finish != "none":
        candidate["finishReason"] = _FINISH_REASONS[action.finish]
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": prompt_tokens + output_tokens,
        },
        "modelVersion": request.model or DEFAULT_MODEL,
        "responseId": f"fake-{answer_id}",
    }


def ledger_usage(body: dict[str, Any]) -> dict[str, int]:
    """The usage the ledger records, under the names the other protocols' ledger entries use."""
    usage = body["usageMetadata"]
    return {
        "input_tokens": usage["promptTokenCount"],
        "output_tokens": usage["candidatesTokenCount"],
        "total_tokens": usage["totalTokenCount"],
    }


def chunks(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The responses that stream `body`: its text in a few pieces (a function call whole, as
    Gemini sends it), the last carrying the finish reason and the usage."""
    candidate = body["candidates"][0]
    parts = candidate.get("content", {}).get("parts") or [None]  # a blocked candidate has no content
    part = parts[0]
    if part is not None and "text" in part:
        parts = [{"text": piece} for piece in pieces(part["text"])] or parts
    for number, piece in enumerate(parts, 1):
        streamed: dict[str, Any] = {"index": 0}
        if piece is not None:
            streamed["content"] = {"role": "model", "parts": [piece]}
        last = {}
        if number == len(parts):
            streamed |= {key: candidate[key] for key in ("finishReason", "safetyRatings") if key in candidate}
            last = {"usageMetadata": body["usageMetadata"]}
        yield {"candidates": [streamed], **last, "modelVersion": body["modelVersion"], "responseId": body["responseId"]}


def unfinished(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The responses of `body` as they come when the stream ends early: its pieces, with
    no finish reason and no usage, and no error."""
    streamed = list(chunks(body))
    last = streamed[-1]
    last["candidates"][0].pop("finishReason", None)
    last.pop("usageMetadata", None)
    return streamed


def sse(chunk: dict[str, Any]) -> bytes:
    """One server-sent event, framed as Gemini frames it."""
    return b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"


# How Google words the errors a request can meet whatever its transport (`Failure.code`).
_MESSAGES = {
    "context_length_exceeded": "The input token count (1100000) exceeds the maximum number of tokens allowed (1048576).",
    "invalid_api_key": "API key not valid. Please pass a valid API key.",
}


def error_body(status: int, message: str | None, code: str | None = None) -> dict[str, Any]:
    """A Google API error body: 429 `RESOURCE_EXHAUSTED`, 503 `UNAVAILABLE`, 500 `INTERNAL`, ..."""
    name = _STATUSES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
    text = message or _MESSAGES.get(code or "") or f"fake LLM: scripted {status} error"
    return {"error": {"code": status, "message": text, "status": name}}

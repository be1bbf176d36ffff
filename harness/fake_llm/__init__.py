"""A scripted fake of an LLM server, with a call ledger. It speaks OpenAI chat completions,
the OpenAI Responses API, Anthropic Messages and Gemini (`generateContent`).

The harness runs it as its own process (`python -m harness.fake_llm --port N`), scripts
it with `FakeLLM(...).on(...)...`, and afterwards reads which LLM calls were made,
repeated (same fingerprint), held, released, cut off by the client or cut by a rule.
With `--upstream URL` it becomes a recording proxy for the OpenAI protocols: what no rule
scripts (and what a `forward()` rule matches) is answered by that real LLM, with the
agent's own key.
With `--auto` (or a rule's `auto()`) it answers what no rule scripts by itself, like a
plausible LLM: tool calls with schema-valid arguments, then text (`harness.fake_llm.auto`).

Layer: above the history, below the stubs; it imports nothing of a run. Held by ``lint-
imports`` (pyproject.toml's [tool.importlinter])."""

from harness.fake_llm.app import create_app
from harness.fake_llm.chat import DEFAULT_TOKEN_PATTERN
from harness.fake_llm.client import FakeLLM, FakeLLMError, RuleBuilder
from harness.fake_llm.ledger import Ledger, LedgerEntry
from harness.fake_llm.rules import (
    DEFAULT_CUT_TEXT,
    DEFAULT_REPLY,
    Action,
    Auto,
    BadAnswer,
    Failure,
    Forward,
    Hang,
    Malformed,
    Match,
    Reply,
    Rule,
    RuleId,
    ScriptedRule,
    StreamCut,
    Structured,
    ToolCall,
    tool_call,
)
from harness.history import Calls, LLMCall  # the ledger's rows live with the history

__all__ = [
    "DEFAULT_CUT_TEXT",
    "DEFAULT_REPLY",
    "DEFAULT_TOKEN_PATTERN",
    "Action",
    "Auto",
    "BadAnswer",
    "Calls",
    "FakeLLM",
    "FakeLLMError",
    "Failure",
    "Forward",
    "Hang",
    "LLMCall",
    "Ledger",
    "LedgerEntry",
    "Malformed",
    "Match",
    "Reply",
    "Rule",
    "RuleBuilder",
    "RuleId",
    "ScriptedRule",
    "StreamCut",
    "Structured",
    "ToolCall",
    "create_app",
    "tool_call",
]

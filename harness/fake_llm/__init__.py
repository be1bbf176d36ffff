"""A scripted fake of an OpenAI-compatible LLM server, with a call ledger.

The harness runs it as its own process (`python -m harness.fake_llm --port N`), scripts
it with `FakeLLM(...).on(...)...`, and afterwards reads which LLM calls were made,
repeated (same fingerprint), held, released or cut off.
"""

from harness.fake_llm.app import create_app
from harness.fake_llm.calls import Calls, LLMCall
from harness.fake_llm.chat import DEFAULT_TOKEN_PATTERN
from harness.fake_llm.client import FakeLLM, FakeLLMError, RuleBuilder
from harness.fake_llm.ledger import Ledger, LedgerEntry
from harness.fake_llm.rules import (
    DEFAULT_REPLY,
    Action,
    Failure,
    Hang,
    Malformed,
    Match,
    Reply,
    Rule,
    ToolCall,
    tool_call,
)

__all__ = [
    "DEFAULT_REPLY",
    "DEFAULT_TOKEN_PATTERN",
    "Action",
    "Calls",
    "FakeLLM",
    "FakeLLMError",
    "Failure",
    "Hang",
    "LLMCall",
    "Ledger",
    "LedgerEntry",
    "Malformed",
    "Match",
    "Reply",
    "Rule",
    "RuleBuilder",
    "ToolCall",
    "create_app",
    "tool_call",
]

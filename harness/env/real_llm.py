"""Running against a real LLM provider instead of scripted answers.

Set ``LLM_UPSTREAM`` (e.g. ``https://api.openai.com/v1``) and ``OPENAI_API_KEY``: the fake
LLM then forwards every request no fault or hold rule claims to the provider and still
records the call, so faults, holds and the checker work as before. Scenario scripts stop
scripting answers (``scripted_answers()`` is False), and checks compare answers only for
being there, since a real model words them its own way.
"""

from __future__ import annotations

import os

from harness.errors import HarnessError


def real_llm_upstream() -> str | None:
    return os.environ.get("LLM_UPSTREAM") or None


def real_llm_key() -> str:
    key = os.environ.get("OPENAI_API_KEY", "")
    if not key:
        raise HarnessError("LLM_UPSTREAM is set but OPENAI_API_KEY is not: the agents need your provider's key")
    return key


def scripted_answers() -> bool:
    """True when the fake LLM answers from scripts, False when a real provider answers."""
    return real_llm_upstream() is None

"""Running against a real LLM provider instead of scripted answers.

Set ``LLM_UPSTREAM`` (e.g. ``https://api.openai.com/v1``) and ``OPENAI_API_KEY``: the edge
(CLI, pytest plugin) reads them into ``Settings``, and the environment starts the fake LLM
with that upstream. It then forwards every request no fault or hold rule claims to the
provider and still records the call, so faults, holds and the checker work as before.
Scenario scripts stop scripting answers (``scripted_answers(llm)`` is False), and checks
compare answers only for being there, since a real model words them its own way.
"""

from __future__ import annotations

from harness.fake_llm import FakeLLM


def scripted_answers(llm: FakeLLM) -> bool:
    """True when the fake LLM answers from scripts, False when a real provider answers: the
    running fake LLM says whether it has an upstream, so the answer follows the settings its
    environment was started with."""
    return llm.upstream is None

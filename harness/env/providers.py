"""The variables each official LLM SDK reads for its base URL and key, pointed at the fake
LLM's link, so an agent runs against the harness unchanged, with no ``--env``.

Read from each SDK's source (the versions in the README's dependency list):

- openai (Python and the Vercel AI SDK's openai provider): ``OPENAI_BASE_URL``, with ``/v1``;
  litellm and older LangChain read ``OPENAI_API_BASE``. Key: ``OPENAI_API_KEY``.
- anthropic (Python; LangChain's and Pydantic AI's Anthropic models build its client):
  ``ANTHROPIC_BASE_URL`` *without* ``/v1``: it appends ``/v1/messages``. The Vercel AI SDK's
  ``@ai-sdk/anthropic`` reads the same variable and appends only ``/messages``, so the fake
  answers both paths. langchain-anthropic reads ``ANTHROPIC_API_URL`` first (a user's
  own would win over ours, so it is set too). Key: ``ANTHROPIC_API_KEY``.
- google-genai (and Google ADK, which builds its client): ``GOOGLE_GEMINI_BASE_URL``, without
  a version (it appends ``/v1beta/models/...``). Key: ``GOOGLE_API_KEY``, read before
  ``GEMINI_API_KEY``; ``GOOGLE_GENAI_USE_VERTEXAI=false`` keeps it off Vertex AI. The Vercel
  AI SDK's ``@ai-sdk/google`` reads only its key (``GOOGLE_GENERATIVE_AI_API_KEY``), not a base URL.
- litellm fetches its model price list from GitHub at import unless
  ``LITELLM_LOCAL_MODEL_COST_MAP=True``: an agent under test reaches no network but the fake's.
"""

from __future__ import annotations

DUMMY_KEY = "fake-key-for-the-harness"


def provider_environment(
    llm_url: str, *, openai_key: str | None = None, anthropic_key: str | None = None, gemini_key: str | None = None
) -> dict[str, str]:
    """The variables for an agent whose LLM link is at ``llm_url`` (no path). The keys: the
    user's, when a real provider stands behind the fake (it forwards them, never records them)."""
    versioned = f"{llm_url}/v1"
    return {
        "OPENAI_BASE_URL": versioned,
        "OPENAI_API_BASE": versioned,
        "OPENAI_API_KEY": DUMMY_KEY if openai_key is None else openai_key,
        "ANTHROPIC_BASE_URL": llm_url,
        "ANTHROPIC_API_URL": llm_url,  # langchain-anthropic reads it before ANTHROPIC_BASE_URL
        "ANTHROPIC_API_KEY": anthropic_key or DUMMY_KEY,
        "GOOGLE_GEMINI_BASE_URL": llm_url,
        "GOOGLE_API_KEY": gemini_key or DUMMY_KEY,
        "GOOGLE_GENERATIVE_AI_API_KEY": gemini_key or DUMMY_KEY,
        "GOOGLE_GENAI_USE_VERTEXAI": "false",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }

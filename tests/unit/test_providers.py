"""Each official SDK, built with its defaults, points at the fake LLM from the variables the
harness hands every agent: what ``harness.env.providers`` claims each SDK reads, checked
against the SDKs themselves (no ``--env`` needed for any of them)."""

from __future__ import annotations

import pytest

from harness.env.providers import DUMMY_KEY, provider_environment

FAKE = "http://127.0.0.1:40123"


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in provider_environment(FAKE).items():
        monkeypatch.setenv(name, value)


def test_openai_reads_its_base_url_and_key(handed: None) -> None:
    import openai

    client = openai.OpenAI()
    assert str(client.base_url).rstrip("/") == f"{FAKE}/v1" and client.api_key == DUMMY_KEY


def test_anthropic_reads_the_root_and_appends_v1(handed: None) -> None:
    import anthropic

    client = anthropic.Anthropic()
    assert str(client.base_url).rstrip("/") == FAKE and client.api_key == DUMMY_KEY
    assert str(client.messages._client._prepare_url("/v1/messages")) == f"{FAKE}/v1/messages"


def test_google_genai_reads_the_gemini_base_url_and_key(handed: None) -> None:
    from google import genai

    client = genai.Client()
    api = client._api_client
    assert not api.vertexai and api.api_key == DUMMY_KEY
    assert api._http_options.base_url.rstrip("/") == FAKE


def test_litellm_reads_openai_api_base(handed: None) -> None:
    from litellm.secret_managers.main import get_secret_str

    assert get_secret_str("OPENAI_API_BASE") == f"{FAKE}/v1"


def test_litellm_is_told_to_keep_its_price_list_local(handed: None) -> None:
    import os

    # litellm reads it at import (litellm/__init__.py: model_cost = get_model_cost_map(...)).
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"


def test_a_real_providers_key_is_handed_over_only_for_openai() -> None:
    handed = provider_environment(FAKE, openai_key="sk-user")
    assert handed["OPENAI_API_KEY"] == "sk-user"
    assert handed["ANTHROPIC_API_KEY"] == handed["GOOGLE_API_KEY"] == DUMMY_KEY


def test_langchain_anthropic_reads_the_url_it_prefers(handed: None) -> None:
    from langchain_anthropic import ChatAnthropic

    model = ChatAnthropic(model="claude-sonnet-4-5")
    assert str(model._client.base_url).rstrip("/") == FAKE

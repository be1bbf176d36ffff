"""Running against a real LLM provider (LLM_UPSTREAM + OPENAI_API_KEY). The "provider" here
is a second fake LLM standing in for OpenAI, so the test is hermetic; everything between
the agent and it is the real passthrough path."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from harness.env.binaries import PROJECT_ROOT
from harness.env.ports import free_port
from harness.env.process import ManagedProcess, http_ready
from harness.fake_llm import FakeLLM, tool_call
from harness.runner.scenario import run_scenario
from harness.settings import Settings
from scenarios.llm_scripts import BILLING_ANSWER
from scenarios.local_router import BASELINE, KILL_DURING_SPECIALIST_CALL

KEY = "sk-test-upstream-key-0123456789"


@pytest.fixture
def provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    port = free_port()
    process = ManagedProcess(
        "provider",
        [sys.executable, "-m", "harness.fake_llm", "--port", str(port)],
        tmp_path / "provider.log",
        http_ready(f"http://127.0.0.1:{port}/health"),
        cwd=PROJECT_ROOT,
    ).start()
    llm = FakeLLM(f"http://127.0.0.1:{port}")
    llm.on(has_tools=True).reply(tool_call("BillingAgent", {}))
    llm.on(system_contains="billing specialist").reply(BILLING_ANSWER)
    monkeypatch.setenv("LLM_UPSTREAM", llm.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    yield llm
    process.stop()


def test_the_catalogue_runs_against_a_real_provider_through_the_recording_proxy(provider: FakeLLM, tmp_path: Path) -> None:
    settings = Settings.from_environ(os.environ)  # read at the edge, as the CLI and the plugin do
    baseline = run_scenario(BASELINE, tmp_path, settings=settings)
    killed = run_scenario(KILL_DURING_SPECIALIST_CALL, tmp_path, settings=settings)

    assert baseline.verdict == "pass", baseline.explain()
    assert killed.verdict == "pass", killed.explain()
    assert all(c.forwarded for c in baseline.calls + killed.calls)
    assert killed.llm_calls == {"committed": 2, "wasted": 1, "duplicate": 0}
    # The provider saw every answered call, with the user's key, which nothing recorded.
    assert len(provider.calls) >= 4
    recorded = json.dumps([baseline.to_json(), killed.to_json()])
    assert KEY not in recorded
    for log in tmp_path.rglob("*.log"):
        assert KEY not in log.read_text(errors="replace"), log

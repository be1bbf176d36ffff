"""Cassettes end to end: ``validate --record`` records a real agent's baseline from "the
provider" (a second fake LLM process, in auto mode with its own seed, on its own loopback
port: never the network), then validates on the recording; ``validate --cassette`` replays
it with no key and no provider: 0 misses, and the baseline's answer is the recorded one.
Bad cassette options are one line and exit 2, before anything starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.env.binaries import PROJECT_ROOT
from harness.env.ports import free_port
from harness.fake_llm import FakeLLM

pytest_plugins = ["pytester"]

AGENT = PROJECT_ROOT / "agents/validation/docs_default_client"
HYPERCORN = f"{sys.executable} -m hypercorn app:app --bind 127.0.0.1:{{port}}"
KEY = "sk-test-recording-0123456789"
KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "LLM_UPSTREAM")


def validate(*args: str, env: dict[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if name not in KEY_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "harness", "validate", "--cwd", str(AGENT), "--cmd", HYPERCORN, "--workers", "1", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=clean | env,
    )


@pytest.fixture
def provider(no_leftovers: object) -> Iterator[FakeLLM]:
    """The "real provider": a fake LLM in auto mode whose seed differs from the harness's,
    so its answers are not the ones the harness's own auto mode would give."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.fake_llm", "--port", str(port), "--auto", "--seed", "7"],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the provider did not start"
            time.sleep(0.1)
        with FakeLLM(url) as llm:
            yield llm
    finally:
        process.terminate()
        process.wait(timeout=10)


def validation_of(out: Path) -> dict[str, object]:
    return json.loads((out / "latest" / "results.json").read_text())["validation"]


def test_a_recorded_baseline_replays_with_no_miss_and_the_recorded_answer(provider: FakeLLM, tmp_path: Path) -> None:
    cassette = tmp_path / "cassettes" / "assistant.jsonl"
    cassette.parent.mkdir()

    recording = validate("--record", str(cassette), "--upstream", provider.base_url + "/v1", "--out",
                         str(tmp_path / "recorded"), env={"OPENAI_API_KEY": KEY}, cwd=tmp_path)

    output = recording.stdout + recording.stderr
    assert recording.returncode == 0, output
    exchanges = [json.loads(line) for line in cassette.read_text().splitlines()]
    # The baseline's request and the second fault-free one; every probe after ran on the recording.
    assert len(exchanges) == len(provider.calls) == 2, output
    assert KEY not in cassette.read_text() and KEY not in output
    [first, _] = exchanges
    token = first["token"]
    recorded_answer = first["body"]["choices"][0]["message"]["content"]
    assert token in recorded_answer and recorded_answer.startswith("Auto answer")
    own_auto = provider.calls[0]  # the provider's answer, not one the harness made up
    assert own_auto.response["choices"][0]["message"]["content"] == recorded_answer
    recorded = validation_of(tmp_path / "recorded")
    assert recorded["cassette"]["recorded"] == 2 and recorded["cassette"]["misses"] == 0, recorded["cassette"]
    assert "2 exchanges recorded" in output and "0 misses" in output

    replay = validate("--cassette", str(cassette), "--out", str(tmp_path / "replayed"), env={}, cwd=tmp_path)

    output = replay.stdout + replay.stderr
    assert replay.returncode == 0, output
    assert len(provider.calls) == 2, "a replay needs no provider"
    replayed = validation_of(tmp_path / "replayed")
    tape = replayed["cassette"]
    assert (tape["misses"], tape["baseline_misses"], tape["recorded"]) == (0, 0, None), tape
    assert tape["replayed"] >= len(replayed["plan"]), tape  # every run's LLM calls were answered from it
    assert replayed["baseline_answer"] == recorded_answer.replace(token, "{token}")
    assert replayed["green"] is True


@pytest.mark.parametrize(
    "args, env, expected",
    [
        (("--record", "{tmp}/c.jsonl"), {}, "--record needs your provider's key: set OPENAI_API_KEY"),
        (("--cassette", "{tmp}/missing.jsonl"), {}, "missing.jsonl: no such file"),
        (("--cassette", "{tmp}/broken.jsonl"), {}, "broken.jsonl, line 2: not a recorded exchange"),
        (("--cassette", "{tmp}/ok.jsonl", "--on-miss", "sometimes"), {}, "--on-miss 'sometimes': expected one of auto, fail"),
        (("--record", "{tmp}/c.jsonl", "--cassette", "{tmp}/ok.jsonl"), {"OPENAI_API_KEY": KEY},
         "--record FILE and --cassette FILE exclude each other"),
        (("--upstream", "http://127.0.0.1:1/v1"), {}, "--upstream URL is where --record forwards"),
    ],
)
def test_bad_cassette_options_are_one_line_and_exit_2(
    args: tuple[str, ...], env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    exchange = {"api": "chat", "path": "/v1/chat/completions", "model": "m", "stream": False, "token": None,
                "request": {"model": "m", "messages": []}, "status": 200, "headers": {}, "body": {}}
    (tmp_path / "ok.jsonl").write_text(json.dumps(exchange) + "\n")
    (tmp_path / "broken.jsonl").write_text(json.dumps(exchange) + "\n{not json\n")
    started = time.monotonic()

    done = validate(*(arg.format(tmp=tmp_path) for arg in args), env=env, cwd=tmp_path, timeout=60)

    assert done.returncode == 2, done.stdout + done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "reports").exists(), "said before anything started"
    assert time.monotonic() - started < 30


PLUGIN_TEST = f"""
import json, pytest

@pytest.mark.resilience(cassette="cassettes/assistant.jsonl")
def test_the_assistant_on_real_answers(resilience_validate):
    validation = resilience_validate(cmd={HYPERCORN!r}, cwd={str(AGENT)!r}, budget="quick")
    assert validation.green, validation.summary()
    print("CASSETTE", json.dumps(validation.cassette.to_json()))

@pytest.mark.resilience(cassette="cassettes/none-yet.jsonl", on_miss="fail")
def test_a_cassette_not_recorded_yet(resilience_validate):
    resilience_validate(cmd={HYPERCORN!r}, cwd={str(AGENT)!r})
"""


def cassette_line(outcome: pytest.RunResult) -> dict[str, object]:
    [line] = [line for line in outcome.outlines if "CASSETTE " in line]
    return json.loads(line.split("CASSETTE ", 1)[1])


def test_the_plugin_records_with_an_option_and_replays_by_the_marker(
    provider: FakeLLM, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_assistant=PLUGIN_TEST)
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    recording = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--resilience-record",
                                              f"--resilience-upstream={provider.base_url}/v1", "-k", "assistant_on")

    recording.assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "assistant.jsonl"
    assert len(cassette.read_text().splitlines()) == len(provider.calls) == 2
    assert cassette_line(recording)["recorded"] == 2 and KEY not in cassette.read_text()

    monkeypatch.delenv("OPENAI_API_KEY")
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")

    replay.assert_outcomes(passed=1, errors=1)  # the marker is read when the fixture is set up
    assert cassette_line(replay)["misses"] == 0 and len(provider.calls) == 2
    replay.stdout.fnmatch_lines(["*none-yet.jsonl: no such file*"])

"""Settings: read once from a mapping of environment variables; bad combinations give one
clear line; binaries resolve from the settings, never from the process environment."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.env import binaries
from harness.errors import HarnessError
from harness.settings import DEFAULT_LLM_MODEL, Settings


def test_no_variables_give_the_defaults() -> None:
    assert Settings.from_environ({}) == Settings()
    settings = Settings()
    assert settings.restate_server_bin is None and settings.toxiproxy_server_bin is None
    assert settings.restate_admin_url is None and settings.toxiproxy_url is None
    assert settings.llm_model == DEFAULT_LLM_MODEL == "gpt-4o-mini"
    assert settings.scripted_answers and not settings.external_restate


def test_every_documented_variable_is_read() -> None:
    settings = Settings.from_environ(
        {
            "RESTATE_SERVER_BIN": "/opt/restate-server",
            "TOXIPROXY_SERVER_BIN": "/opt/toxiproxy-server",
            "RESTATE_ADMIN_URL": "http://127.0.0.1:9070",
            "RESTATE_INGRESS_URL": "http://127.0.0.1:8080",
            "TOXIPROXY_URL": "http://localhost:8474",
            "OPENAI_MODEL": "gpt-4.1",
            "LLM_UPSTREAM": "https://api.openai.com/v1",
            "OPENAI_API_KEY": "sk-secret-123",
            "UNRELATED": "ignored",
        }
    )
    chosen = Settings.from_environ({"RESILIENCE_TOPOLOGY": "cluster", "RESTATE_IMAGE": "mine:1"})
    assert (chosen.topology, chosen.backend, chosen.restate_image) == ("cluster", "native", "mine:1")
    assert Settings.from_environ({"RESILIENCE_BACKEND": "docker"}).backend == "docker"
    assert chosen.choosing(topology="single").topology == "single" and chosen.choosing().topology == "cluster"
    assert settings == Settings(
        restate_server_bin="/opt/restate-server",
        toxiproxy_server_bin="/opt/toxiproxy-server",
        restate_admin_url="http://127.0.0.1:9070",
        restate_ingress_url="http://127.0.0.1:8080",
        toxiproxy_url="http://localhost:8474",
        llm_model="gpt-4.1",
        llm_upstream="https://api.openai.com/v1",
        openai_api_key="sk-secret-123",
    )
    assert settings.external_restate and not settings.scripted_answers
    assert "sk-secret-123" not in repr(settings)


def test_empty_variables_count_as_unset() -> None:
    empty = {name: "" for name in ("RESTATE_SERVER_BIN", "RESTATE_ADMIN_URL", "RESTATE_INGRESS_URL", "TOXIPROXY_URL",
                                   "OPENAI_MODEL", "LLM_UPSTREAM", "OPENAI_API_KEY")}
    assert Settings.from_environ(empty) == Settings()


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().llm_model = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"RESTATE_ADMIN_URL": "http://127.0.0.1:9070"}, "set both RESTATE_ADMIN_URL and RESTATE_INGRESS_URL"),
        ({"RESTATE_INGRESS_URL": "http://127.0.0.1:8080"}, "set both RESTATE_ADMIN_URL and RESTATE_INGRESS_URL"),
        (
            {"RESTATE_ADMIN_URL": "http://127.0.0.1:9070", "RESTATE_INGRESS_URL": "http://127.0.0.1"},
            "RESTATE_INGRESS_URL=http://127.0.0.1 must name a port",
        ),
        (
            {"RESTATE_ADMIN_URL": "127.0.0.1:9070", "RESTATE_INGRESS_URL": "http://127.0.0.1:8080"},
            "RESTATE_ADMIN_URL=127.0.0.1:9070 is not a URL",
        ),
        ({"TOXIPROXY_URL": "http://10.0.0.5:8474"}, "TOXIPROXY_URL=http://10.0.0.5:8474 must be http://127.0.0.1:<port>"),
        ({"TOXIPROXY_URL": "http://127.0.0.1"}, "must be http://127.0.0.1:<port>"),
        ({"LLM_UPSTREAM": "https://api.openai.com/v1"}, "LLM_UPSTREAM is set but OPENAI_API_KEY is not"),
        (
            {"LLM_UPSTREAM": "ftp://api.example/v1", "OPENAI_API_KEY": "sk-1"},
            "LLM_UPSTREAM=ftp://api.example/v1 must be an http(s) base URL",
        ),
        ({"RESILIENCE_TOPOLOGY": "ring"}, "topology 'ring' is not one of single, cluster"),
        ({"RESILIENCE_BACKEND": "k8s"}, "backend 'k8s' is not one of native, docker"),
        ({"RESILIENCE_TOPOLOGY": "cluster", "RESILIENCE_BACKEND": "docker"}, "--backend docker is for one server"),
        (
            {"RESTATE_ADMIN_URL": "http://127.0.0.1:9070", "RESTATE_INGRESS_URL": "http://127.0.0.1:8080",
             "RESILIENCE_TOPOLOGY": "cluster"},
            "the topology and backend are its own",
        ),
    ],
)
def test_bad_combinations_give_one_clear_line(environ: dict[str, str], message: str) -> None:
    with pytest.raises(HarnessError) as raised:
        Settings.from_environ(environ)
    text = str(raised.value)
    assert message in text
    assert len(text.splitlines()) == 1, text


def test_the_same_checks_hold_for_settings_made_in_code() -> None:
    with pytest.raises(HarnessError, match="set both RESTATE_ADMIN_URL and RESTATE_INGRESS_URL"):
        Settings(restate_admin_url="http://127.0.0.1:9070")
    with pytest.raises(HarnessError, match="OPENAI_API_KEY is not"):
        Settings(llm_upstream="https://api.openai.com/v1")
    with pytest.raises(HarnessError, match="OPENAI_MODEL is empty"):
        Settings(llm_model="")


def test_from_environ_reads_only_the_mapping_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTATE_ADMIN_URL", "http://127.0.0.1:9070")  # alone: would be an error
    monkeypatch.setenv("OPENAI_MODEL", "from-the-process")
    assert Settings.from_environ({}) == Settings()


# --- binaries from settings ---------------------------------------------------------------


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_binaries_come_from_the_settings_then_tools_bin_then_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools, on_path, explicit = tmp_path / "tools", tmp_path / "path", tmp_path / "explicit"
    for folder in (tools, on_path, explicit):
        folder.mkdir()
    monkeypatch.setattr(binaries, "_TOOLS_BIN", tools)
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.setenv("RESTATE_SERVER_BIN", "/nowhere/restate-server")  # never read: only settings count

    mine = _executable(explicit / "my-restate")
    assert binaries.restate_server(Settings(restate_server_bin=str(mine))) == str(mine)

    path_one = _executable(on_path / "restate-server")
    assert binaries.restate_server(Settings()) == str(path_one)
    assert binaries.restate_server() == str(path_one)

    pinned = _executable(tools / "restate-server")
    assert binaries.restate_server() == str(pinned)


def test_a_named_binary_that_is_not_executable_names_its_variable(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"^TOXIPROXY_SERVER_BIN=.*nope is not an executable file$"):
        binaries.toxiproxy_server(Settings(toxiproxy_server_bin=str(tmp_path / "nope")))


def test_a_missing_binary_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binaries, "_TOOLS_BIN", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HarnessError, match="npm install @restatedev/restate-server@1.7.12"):
        binaries.restate_server(Settings())

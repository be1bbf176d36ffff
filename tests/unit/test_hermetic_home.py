"""Hermetic tests: what a user installed or left in their home changes no test's outcome.

``tests/conftest.py`` gives every test a temporary ``HOME`` (and XDG folders in it) and unsets
``RESTATE_RESILIENCE_HOME``. Here, a test session runs the tests that look for binaries with a
user's home that holds ``restate-resilience install``'s binaries in each place the harness
reads (``~/.cache/restate-resilience``, ``$XDG_CACHE_HOME/restate-resilience``,
``$RESTATE_RESILIENCE_HOME``): they pass as they do on a clean machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.env import binaries
from harness.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NAMES = ("restate-server", "restatectl", "toxiproxy-server")

# The tests that read the per-user cache when the home leaks in (issue 17), and this file's own.
MACHINE_DEPENDENT = (
    "tests/unit/test_settings.py::test_binaries_come_from_the_settings_then_tools_bin_then_path",
    "tests/unit/test_settings.py::test_a_missing_binary_says_how_to_install_it",
    "tests/integration/test_bad_input.py::test_missing_binary_on_path_gives_the_install_command",
    "tests/unit/test_hermetic_home.py::test_every_test_has_an_empty_home_of_its_own",
)


def _plant(tools_home: Path) -> None:
    """Binaries where ``restate-resilience install`` puts them (``tools_home/bin``)."""
    (tools_home / "bin").mkdir(parents=True)
    for name in NAMES:
        binary = tools_home / "bin" / name
        binary.write_text(f"#!/bin/sh\necho planted {name} 1.7.12 v2.12.0\n")
        binary.chmod(0o755)


def test_every_test_has_an_empty_home_of_its_own(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = Path.home()
    assert home.is_relative_to(tmp_path_factory.getbasetemp()), home
    assert list(home.iterdir()) == [], "a fresh home is empty"
    assert "RESTATE_RESILIENCE_HOME" not in os.environ
    assert Settings().tools_home == home / ".cache" / "restate-resilience"
    assert Settings.from_environ(os.environ).tools_home.is_relative_to(home)


def test_binaries_a_user_installed_in_their_home_change_no_outcome(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "user"
    for tools_home in (user / ".cache" / "restate-resilience", user / "xdg-cache" / "restate-resilience",
                       user / "resilience-home"):
        _plant(tools_home)
    env = {**os.environ, "HOME": str(user), "XDG_CACHE_HOME": str(user / "xdg-cache"),
           "RESTATE_RESILIENCE_HOME": str(user / "resilience-home")}
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "PYTEST_XDIST_WORKER",
                     "PYTEST_ADDOPTS"):
        env.pop(variable, None)

    # That home does leak in without the session's own: the harness finds the planted binary.
    monkeypatch.setattr(binaries, "_TOOLS_BIN", tmp_path / "no-tools")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    for variable in ("HOME", "RESTATE_RESILIENCE_HOME"):
        monkeypatch.setenv(variable, env[variable])
    assert binaries.restate_server(Settings()) == str(user / ".cache" / "restate-resilience" / "bin" / "restate-server")
    assert binaries.restate_server(Settings.from_environ(env)) == str(user / "resilience-home" / "bin" / "restate-server")

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "inner"),
         *MACHINE_DEPENDENT],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"{len(MACHINE_DEPENDENT)} passed" in done.stdout, done.stdout[-2000:]
    assert sorted(p.name for p in (user / ".cache" / "restate-resilience" / "bin").iterdir()) == sorted(NAMES)

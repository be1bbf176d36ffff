"""For a user who installs the harness into their own agent's repository: the wheel adds only
``harness`` (no top-level ``agents`` or ``scenarios``, which would shadow the OpenAI Agents
SDK), reports go under the current directory, a ``scenarios/`` folder there changes
nothing, and ``restate-resilience install`` fetches the pinned servers."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from harness.env.binaries import PROJECT_ROOT, RESTATE_VERSION, TOXIPROXY_VERSION


def harness_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_the_wheel_holds_only_the_harness_package(tmp_path: Path) -> None:
    # Built from a copy: setuptools leaves a build/ folder in the tree it builds.
    source = tmp_path / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", ".tools", "node_modules",
                                                                        "reports", "__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("restate_resilience_harness-*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist() if not name.startswith("restate_resilience")}
    assert tops == {"harness"}, tops
    names = zipfile.ZipFile(wheel).namelist()
    assert "harness/templates/report/_validation.html.j2" in names  # the report's templates travel with it


def test_a_user_folder_gets_its_own_reports_and_its_scenarios_folder_is_ignored(tmp_path: Path, no_leftovers) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "__init__.py").write_text("raise SystemExit('the user folder was imported')\n")
    listed = harness_cli("list", "--tag", "kill", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "kill-router-during-specialist-call" in listed.stdout
    done = harness_cli("run", "baseline", "--agent", "local-router", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "reports" / "latest" / "results.json").is_file()
    assert (tmp_path / "reports" / "latest" / "index.html").is_file()


def test_install_fetches_the_pinned_servers_into_a_per_user_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = harness_cli("install", "--into", str(home), cwd=tmp_path, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    version = subprocess.run([str(home / "bin" / "restate-server"), "--version"], capture_output=True, text=True)
    assert RESTATE_VERSION in version.stdout
    ctl = subprocess.run([str(home / "bin" / "restatectl"), "--version"], capture_output=True, text=True)
    assert RESTATE_VERSION in ctl.stdout  # the cluster topology needs it
    assert (home / "bin" / "toxiproxy-server").resolve().is_file()
    assert (home / "go-bin" / ".version").read_text().strip() == TOXIPROXY_VERSION
    again = harness_cli("install", "--into", str(home), cwd=tmp_path)
    assert again.returncode == 0 and "already installed" in again.stdout, again.stdout

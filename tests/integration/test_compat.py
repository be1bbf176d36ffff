"""The harness beside the newest restate-sdk release (marker ``compat``): pyproject.toml asks
for ``restate-sdk>=1.3,<2`` and only ``constraints.txt`` pins the checkout's exact versions,
so a user whose agent moves to a newer release can still install the harness.

A scratch venv gets the newest release the index offers, chosen without the constraints,
and the harness from a copy of the checkout, in one ``pip install`` that must resolve; then
that venv's ``restate-resilience validate`` validates the reference router green, from a
folder that holds only ``agents/``, as a user's repository would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.env import binaries
from harness.env.binaries import PROJECT_ROOT

from .test_validate import CLASSES, failed, verdicts

pytestmark = pytest.mark.compat

PIP_TIMEOUT_S = 900


def pip(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pip on the scratch venv (this one's pip, ``--python``: the venv needs none of its own,
    which saves ensurepip's time); no constraints file (PIP_CONSTRAINT would be one)."""
    env = {k: v for k, v in os.environ.items() if k != "PIP_CONSTRAINT"}
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), *args,
                           "--disable-pip-version-check"],
                          capture_output=True, text=True, timeout=PIP_TIMEOUT_S, env=env)


def test_the_newest_restate_sdk_installs_beside_the_harness_and_validates_the_reference_router(
        tmp_path: Path, no_leftovers) -> None:
    started = time.monotonic()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True,
                   timeout=120)

    # The newest release, as pip picks it with nothing else to satisfy.
    newest = pip(venv, "install", "--dry-run", "--quiet", "--no-deps", "--ignore-installed", "--report", "-",
                 "restate-sdk")
    assert newest.returncode == 0, newest.stdout[-2000:] + newest.stderr[-2000:]
    [chosen] = [item["metadata"]["version"] for item in json.loads(newest.stdout)["install"]]
    print(f"newest restate-sdk on the index: {chosen}")

    # The harness next to exactly that release, from a copy (pip builds in the tree it is given).
    source = tmp_path / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".tools", "node_modules", "reports", "__pycache__", "*.egg-info", "agents", "tests",
        "benchmarks", "docs"))
    # --no-compile: the bytecode of what validate imports is written as it runs; the rest is never needed.
    installed = pip(venv, "install", "--quiet", "--no-compile", f"restate-sdk=={chosen}", str(source))
    assert installed.returncode == 0, f"the harness does not resolve beside restate-sdk {chosen}:\n" + \
        installed.stdout[-3000:] + installed.stderr[-3000:]
    checked = pip(venv, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    version = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "from importlib.metadata import version; print(version('restate-sdk'))"],
                             capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == chosen, version.stdout + version.stderr
    print(f"installed beside the harness: restate-sdk {chosen} ({time.monotonic() - started:.0f} s)")

    # A user's repository: their agents, no harness source, no .tools (the servers come by variable).
    user = tmp_path / "user"
    shutil.copytree(PROJECT_ROOT / "agents", user / "agents",
                    ignore=shutil.ignore_patterns("product_agent_ts", "validation", "mutants", "__pycache__"))
    python = venv / "bin" / "python"
    out = tmp_path / "reports"
    done = subprocess.run(
        [str(python), "-m", "harness", "validate", "--cwd", str(user), "--out", str(out),
         "--cmd", f"{python} -m harness.serve agents.local_router:app --port {{port}}"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env={**os.environ, "RESTATE_SERVER_BIN": binaries.restate_server(),
             "TOXIPROXY_SERVER_BIN": binaries.toxiproxy_server()},
    )
    output = done.stdout + done.stderr
    print(f"validated with it ({time.monotonic() - started:.0f} s in all)")
    results = sorted(out.glob("*/results.json"))
    assert results, output
    document = json.loads(results[-1].read_text())
    validation = document.get("validation", {})
    assert done.returncode == 0, output
    assert set(verdicts(validation)) == CLASSES
    assert not failed(validation) and validation["green"], output
    assert validation["summary"].startswith("green: no safety finding"), validation["summary"]
    assert document["meta"]["versions"]["restate-sdk"] == chosen, document["meta"]["versions"]  # what ran

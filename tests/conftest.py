"""Session-wide set-up for the whole test run.

- Test workers side by side (``pytest -n 2``, pytest-xdist): each worker gets a temp root of
  its own, so that what a test leaves in the temp dir is told apart from what the other
  worker's test has there at the same moment (``tests/integration/conftest.py`` checks it).
  Everything the harness and its child processes make goes there (``TMPDIR``); the root is
  removed when the worker ends.
- A Docker engine that the docker backend's tests started (``scripts/docker-engine``) is
  stopped when the run ends, by the controlling process: under ``-n``, a worker done with it
  cannot know whether the other still needs it. An engine that was already up is left as found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ENGINE_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "docker-engine"
_ROOT = pytest.StashKey[tuple[Path, "str | None", "str | None"]]()  # the root, and TMPDIR before it
_ENGINE_WAS_UP = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        config.stash[_ENGINE_WAS_UP] = _engine_answers()
        return
    root = _worker_roots(os.getppid()) / worker  # the controlling pytest is the workers' parent
    root.mkdir(parents=True, exist_ok=True)
    config.stash[_ROOT] = (root, os.environ.get("TMPDIR"), tempfile.tempdir)
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = str(root)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _ENGINE_WAS_UP in config.stash:  # the controlling process (or the only one), after every worker
        if not config.stash[_ENGINE_WAS_UP] and _engine_answers():
            subprocess.run([str(ENGINE_SCRIPT), "stop"], capture_output=True, timeout=120)  # only the one it started
        shutil.rmtree(_worker_roots(os.getpid()), ignore_errors=True)  # what a worker's own removal raced with
    saved = config.stash.get(_ROOT, None)
    if saved is None:
        return
    root, tmpdir, cached = saved
    tempfile.tempdir = cached
    if tmpdir is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = tmpdir
    shutil.rmtree(root, ignore_errors=True)


def _worker_roots(controller_pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"rrh-tests-{controller_pid}"


def _engine_answers() -> bool:
    try:
        return subprocess.run([str(ENGINE_SCRIPT), "status"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False

"""Test workers side by side (``pytest -n 2``, pytest-xdist): each worker gets a temp root
of its own, so that what a test leaves in the temp dir is told apart from what the other
worker's test has there at the same moment (``tests/integration/conftest.py`` checks it).
Everything the harness and its child processes make goes there (``TMPDIR``); the root is
removed when the worker ends."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_ROOT = pytest.StashKey[tuple[Path, "str | None", "str | None"]]()  # the root, and TMPDIR before it


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8]
    root = Path(tempfile.gettempdir()) / f"rrh-tests-{run}-{worker}"
    root.mkdir(exist_ok=True)
    config.stash[_ROOT] = (root, os.environ.get("TMPDIR"), tempfile.tempdir)
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = str(root)


def pytest_unconfigure(config: pytest.Config) -> None:
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


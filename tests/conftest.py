"""Session-wide set-up for the whole test run.

- Test workers side by side (``pytest -n 2``, pytest-xdist): each worker gets a temp root of
  its own, so that what a test leaves in the temp dir is told apart from what the other
  worker's test has there at the same moment (``tests/integration/conftest.py`` checks it).
  Everything the harness and its child processes make goes there (``TMPDIR``); the root is
  removed when the worker ends.
- A Docker engine that this session's docker tests started (``start_docker_engine``) is
  stopped when the run ends, by the controlling process: under ``-n``, a worker done with it
  cannot know whether the other still needs it. An engine that was already up is left as found,
  and so is one that another pytest session on the machine started meanwhile (a session only
  stops the engine its own tests started: they leave a mark, ``ENGINE_MARK``).
- A home of its own (hermetic tests): nothing a user installed or left in their home changes a
  test's outcome (``restate-resilience install``'s ``~/.cache/restate-resilience`` above all).
  The process that runs tests gets a temporary ``HOME`` with its XDG folders for the session
  (what session and module fixtures start inherits it), and every test gets a fresh one of its
  own; ``RESTATE_RESILIENCE_HOME`` is unset. Before that, the tools tests start keep the real
  home's caches and config, which make them faster or reachable but decide nothing the harness
  does: playwright's browsers, npm's cache and ``.npmrc``, pip's cache and user config, Go's
  module and build caches and its ``go env`` file, Docker's client config. Matplotlib gets a
  config folder per session (its font list, built once; no user ``matplotlibrc``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

ENGINE_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "docker-engine"
_ROOT = pytest.StashKey[tuple[Path, "str | None", "str | None"]]()  # the root, and TMPDIR before it
_CONTROLLER = pytest.StashKey[bool]()
ENGINE_MARK = "RRH_TESTS_STARTED_ENGINE"  # a file this session's tests create when they start dockerd
_HOME = pytest.StashKey[tuple[Path, pytest.MonkeyPatch]]()  # the session's home, and how to undo it
_TOOL_CACHES = pytest.StashKey[pytest.MonkeyPatch]()

XDG_FOLDERS = {"XDG_CACHE_HOME": ".cache", "XDG_CONFIG_HOME": ".config", "XDG_DATA_HOME": ".local/share",
               "XDG_STATE_HOME": ".local/state"}


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TOOL_CACHES] = _keep_tool_caches()  # first, from the real home; xdist's workers inherit them
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        config.stash[_CONTROLLER] = True
        _sweep_roots_of_dead_sessions()
        os.environ[ENGINE_MARK] = str(_worker_roots(os.getpid()) / "started-docker-engine")  # workers inherit it
        if getattr(config.option, "dist", "no") == "no":  # no workers: this process runs the tests
            _enter_session_home(config)
        return
    root = _worker_roots(os.getppid()) / worker  # the controlling pytest is the workers' parent
    root.mkdir(parents=True, exist_ok=True)
    config.stash[_ROOT] = (root, os.environ.get("TMPDIR"), tempfile.tempdir)
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = str(root)
    _enter_session_home(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _HOME in config.stash:
        home, patch = config.stash[_HOME]
        patch.undo()
        shutil.rmtree(home, ignore_errors=True)
    if _TOOL_CACHES in config.stash:
        config.stash[_TOOL_CACHES].undo()
    if _CONTROLLER in config.stash:  # the controlling process (or the only one), after every worker
        if Path(os.environ.pop(ENGINE_MARK)).exists() and _engine_answers():
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


@pytest.fixture(autouse=True)
def _home_of_its_own(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test a fresh, empty HOME (and XDG folders in it), inherited by what it starts."""
    _use_home(monkeypatch, tmp_path_factory.mktemp("home"))


def _enter_session_home(config: pytest.Config) -> None:
    home = Path(tempfile.mkdtemp(prefix="rrh-home-"))  # a worker's: inside its temp root
    patch = pytest.MonkeyPatch()
    patch.setenv("MPLCONFIGDIR", str(home / "matplotlib"))  # the font list once per session, not per test
    _use_home(patch, home / "home")
    config.stash[_HOME] = (home, patch)


def _use_home(patch: pytest.MonkeyPatch, home: Path) -> None:
    home.mkdir(exist_ok=True)
    patch.setenv("HOME", str(home))
    for variable, folder in XDG_FOLDERS.items():
        patch.setenv(variable, str(home / folder))
    patch.delenv("RESTATE_RESILIENCE_HOME", raising=False)


def _keep_tool_caches() -> pytest.MonkeyPatch:
    """Point the tools that tests start at the real home's caches and config, by variable, so
    that they keep them once HOME is a temporary folder. A variable already set is kept."""
    environ = os.environ
    home = Path(environ.get("HOME") or Path.home())
    cache = Path(environ.get("XDG_CACHE_HOME") or home / ".cache")
    config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    keep = {
        "PLAYWRIGHT_BROWSERS_PATH": cache / "ms-playwright",  # browsers `playwright install` fetched
        "npm_config_cache": home / ".npm",  # npm's defaults, as `npm config get cache|userconfig` says
        "npm_config_userconfig": home / ".npmrc",  # the registry npm uses (restate-resilience install)
        "PIP_CACHE_DIR": cache / "pip",
    }
    user_pip = [path for path in (config / "pip" / "pip.conf", home / ".pip" / "pip.conf") if path.is_file()]
    if user_pip:
        keep["PIP_CONFIG_FILE"] = user_pip[0]
    if (home / ".docker").is_dir():
        keep["DOCKER_CONFIG"] = home / ".docker"
    keep.update(_go_folders(environ))
    patch = pytest.MonkeyPatch()
    for variable, path in keep.items():
        if not any(name.upper() == variable.upper() for name in environ):  # npm reads npm_config_* in any case
            patch.setenv(variable, str(path))
    return patch


def _go_folders(environ: Mapping[str, str]) -> dict[str, Path]:
    """GOPATH, GOMODCACHE, GOCACHE and GOENV (the file that may set GOFLAGS, GOTOOLCHAIN and
    GOPROXY) as Go resolves them now, from the real home."""
    names = ["GOPATH", "GOMODCACHE", "GOCACHE", "GOENV"]
    go = shutil.which("go", path=environ.get("PATH"))
    if go is None or all(name in environ for name in names):  # an xdist worker: the controller set them
        return {}
    try:
        done = subprocess.run([go, "env", "-json", *names], capture_output=True, text=True, timeout=30, env=dict(environ))
        found = json.loads(done.stdout) if done.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return {}
    return {name: Path(found[name]) for name in names if found.get(name) and found[name] != "off"}


def _sweep_roots_of_dead_sessions() -> None:
    """Remove the temp roots a killed session left (its controller is gone): a SIGKILLed
    runner runs no teardown, and the next session is the first code that can."""
    for root in Path(tempfile.gettempdir()).glob("rrh-tests-*"):
        pid = root.name.removeprefix("rrh-tests-")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(root, ignore_errors=True)


def _worker_roots(controller_pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"rrh-tests-{controller_pid}"


def start_docker_engine() -> subprocess.CompletedProcess[str]:
    """``scripts/docker-engine`` (an engine that answers, started if need be), leaving this
    session's mark when it was not up before, so that only this session stops it."""
    was_up = _engine_answers()
    found = subprocess.run([str(ENGINE_SCRIPT)], capture_output=True, text=True, timeout=600)
    if found.returncode == 0 and not was_up and ENGINE_MARK in os.environ:
        mark = Path(os.environ[ENGINE_MARK])
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()
    return found


def _engine_answers() -> bool:
    try:
        return subprocess.run([str(ENGINE_SCRIPT), "status"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False

"""Process-wide cleanup guarantees: every managed process group and temp dir is
registered here, and a reaper process destroys them if this process dies abruptly.

Normal teardown (context managers, ``finally``) does the real work; the reaper only
covers SIGKILL of the runner, where no Python code runs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_interrupted = False


def interrupt(signum: int, frame: object) -> None:
    """A signal handler for SIGINT and SIGTERM: tear down as on Ctrl-C. The request is also
    remembered, because a KeyboardInterrupt raised while ``fork`` runs its Python hooks
    (inside ``subprocess.Popen``) is printed and swallowed; ``raise_if_interrupted``
    raises it again at the next safe point."""
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    if _interrupted:
        raise KeyboardInterrupt
_reaper: subprocess.Popen[str] | None = None
_groups: set[int] = set()
_dirs: set[str] = set()


def _tell_reaper(line: str) -> None:
    global _reaper
    with _lock:
        if _reaper is None or _reaper.poll() is not None:
            _reaper = subprocess.Popen(
                [sys.executable, "-m", "harness.env.reaper"],
                stdin=subprocess.PIPE,
                text=True,
                start_new_session=True,  # survives the runner's process group being killed
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        assert _reaper.stdin is not None
        _reaper.stdin.write(line + "\n")
        _reaper.stdin.flush()


def register_group(pgid: int) -> None:
    _groups.add(pgid)
    _tell_reaper(f"add-group {pgid}")


def forget_group(pgid: int) -> None:
    _groups.discard(pgid)
    _tell_reaper(f"drop-group {pgid}")


def make_temp_dir(prefix: str) -> Path:
    """A temp dir that is removed at teardown, at exit, or by the reaper."""
    path = tempfile.mkdtemp(prefix=prefix)
    _dirs.add(path)
    _tell_reaper(f"add-dir {path}")
    return Path(path)


def remove_temp_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    _dirs.discard(str(path))
    _tell_reaper(f"drop-dir {path}")


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGCONT)
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _at_exit() -> None:
    for pgid in list(_groups):
        kill_group(pgid)
    for path in list(_dirs):
        shutil.rmtree(path, ignore_errors=True)
    if _reaper is not None and _reaper.stdin is not None:
        _groups.clear()
        _dirs.clear()
        _reaper.stdin.close()  # EOF: the reaper finds nothing left and exits
        try:
            _reaper.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _reaper.kill()

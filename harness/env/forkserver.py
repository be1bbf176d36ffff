"""A fork server for our own Python servers: one process that has imported the heavy
libraries once (restate, openai, hypercorn, starlette, uvicorn) and forks a child for each
``python -m harness.serve|harness.fake_llm|harness.stubs.recording ...`` the harness would
otherwise start from nothing. Importing those libraries costs about 1.5–2 s of CPU per
Python process; on two cores, booting a remote stack of five of them is mostly that.

What a child gets is what ``python -m MODULE ARGS`` in ``cwd`` with ``env`` would give: its
own session (process group), its log on stdout and stderr, ``/dev/null`` on stdin,
``sys.argv``, ``sys.path[0]`` and ``os.environ`` as the command would have them, and a fresh
random seed. Only libraries are preloaded, never an agent's module, so an agent's own
state starts from nothing as before. Anything else (the TypeScript agent, a user's
``--cmd``, restate-server) is started as a normal process.

The client side (``ForkServer``) is used by ``ManagedProcess``; the server side runs as
``python -m harness.env.forkserver`` with requests on stdin, one JSON object per line,
answered by one JSON line on stdout. It exits when its stdin closes (its owner died or
closed it); its children die with it (parent-death signal) or are killed by the owner's
``Cleanup``, with which each child's group is registered like any other.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import random
import runpy
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

import setproctitle

from harness.env.cleanup import Cleanup
from harness.errors import HarnessError

# The modules it can run, and the libraries it preloads for them.
FORKABLE = ("harness.serve", "harness.fake_llm", "harness.stubs.recording")
# (Not the modules themselves: run_module would warn that they were imported already.)
PRELOAD = ("restate", "openai", "hypercorn.asyncio", "hypercorn.config", "starlette.applications", "uvicorn",
           "harness.fake_llm.app", "harness.stubs")
_PR_SET_PDEATHSIG = 1
TITLE_ROOM = 400  # characters of command line a forked child can show as its title


class ForkedChild:
    """A child of the fork server, with the part of ``subprocess.Popen``'s interface that
    ``ManagedProcess`` uses. It is not our child, so its exit code is not ours to collect:
    it writes it at the end of its log, and ``returncode`` is -1 once it is gone."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and not _alive(self.pid):
            self.returncode = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode


class ForkServer:
    """``with ForkServer(cleanup) as forks:`` starts the server at once (it preloads while
    the caller goes on); ``forks.spawn(argv, ...)`` waits for it the first time."""

    def __init__(self, cleanup: Cleanup, *, log_path: Path | None = None) -> None:
        self._cleanup = cleanup
        self._lock = threading.Lock()
        self._ready = False
        self._broken = False
        log = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                # Room for the children's titles (see ``_become``): setproctitle then leaves the
                # environment block alone (SPT_NOENV), which leftover checks read.
                [sys.executable, "-m", "harness.env.forkserver", "--title-room", "." * TITLE_ROOM],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "SPT_NOENV": "1"},
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        cleanup.register_group(self._process.pid)

    def __enter__(self) -> "ForkServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def can_run(self, argv: Sequence[str]) -> bool:
        """A command it can fork: ``python -m`` one of ours, with this interpreter, while the
        server works (once it has failed, every command is started as a normal process)."""
        return (not self._broken and len(argv) >= 3 and argv[0] == sys.executable and argv[1] == "-m"
                and argv[2] in FORKABLE)

    def spawn(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path) -> ForkedChild:
        request = {"module": argv[2], "args": list(argv[3:]), "env": dict(env), "cwd": str(cwd), "log": str(log_path)}
        with self._lock:
            try:
                answer = self._ask(request)
            except HarnessError:
                self._broken = True
                raise
        if "error" in answer:
            raise HarnessError(f"the fork server could not start {argv[2]}: {answer['error']}")
        return ForkedChild(int(answer["pid"]))

    def _ask(self, request: dict) -> dict:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            if not self._ready:  # its first line says the libraries are loaded
                self._ready = json.loads(stdout.readline() or "{}").get("ready", False)
            stdin.write((json.dumps(request) + "\n").encode())
            stdin.flush()
            line = stdout.readline()
        except (OSError, ValueError) as exc:
            raise HarnessError(f"the fork server stopped: {exc}") from None
        if not line:
            raise HarnessError(f"the fork server exited (code {self._process.poll()})")
        return json.loads(line)

    def close(self) -> None:
        """Closing its stdin ends it; its group is then killed and forgotten."""
        try:
            if self._process.stdin is not None:
                self._process.stdin.close()
        except OSError:
            pass
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._cleanup.forget_group(self._process.pid)


def _alive(pid: int) -> bool:
    """Not gone and not a zombie (the fork server reaps its children, but not instantly)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


# --- the server side ------------------------------------------------------------------------


def _serve() -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    setproctitle.getproctitle()  # finds the title's memory while sys.argv is still the real one
    gc.freeze()  # the preloaded objects: shared with every child, and never scanned by its collector
    signal.signal(signal.SIGCHLD, _reap_children)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            pid = os.fork()
        except (ValueError, OSError) as exc:
            out.write(json.dumps({"error": str(exc)}) + "\n")
            out.flush()
            continue
        if pid == 0:
            _become(request)  # never returns
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()


def _reap_children(signum: int, frame: object) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _become(request: dict) -> None:
    """In the child: become ``python -m MODULE ARGS`` and never return to the server's loop."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 — fd 0 is /dev/null now
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = request["cwd"]
        sys.argv = [request["module"], *request["args"]]
        # ps, pgrep and leftover checks see the command it stands for, not the fork server's.
        setproctitle.setproctitle(" ".join([sys.executable, "-m", request["module"], *request["args"]]))
        random.seed()
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(2, f"--- exited with code {code}\n".encode())
        finally:
            os._exit(code)


if __name__ == "__main__":
    _serve()

"""``Cleanup`` is an object, not module state: each has its own registry, reaper and
interrupt flag; ``atexit`` is registered when one is made, not at import."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.env import cleanup as cleanup_module
from harness.env.cleanup import Cleanup
from harness.errors import HarnessError


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _gone(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not _alive(pid)


def _group() -> subprocess.Popen[bytes]:
    """A sleeping process in its own group."""
    return subprocess.Popen(["sleep", "300"], start_new_session=True)


def test_the_module_holds_no_state_and_atexit_comes_with_a_cleanup(monkeypatch: pytest.MonkeyPatch) -> None:
    state = {k for k, v in vars(cleanup_module).items() if not k.startswith("__") and isinstance(v, (set, dict, list, bool))}
    assert not state, f"module-level state in harness.env.cleanup: {sorted(state)}"
    registered: list[object] = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(atexit, "unregister", registered.remove)
    owned = Cleanup()
    assert registered == [owned.close]  # registered by the owner when made
    owned.close()
    owned.close()
    assert registered == []  # and unregistered once closed


def test_two_cleanups_keep_their_own_registries_and_reapers(tmp_path: Path) -> None:
    one, two = Cleanup(), Cleanup()
    first, second = _group(), _group()
    try:
        assert one.reaper_pid is None  # started on first use, not before
        one.register_group(first.pid)
        two.register_group(second.pid)
        folder = one.make_temp_dir("rrh-unit-")
        assert one.groups == {first.pid} and two.groups == {second.pid}
        assert one.dirs == {str(folder)} and not two.dirs
        assert one.reaper_pid is not None and two.reaper_pid is not None and one.reaper_pid != two.reaper_pid

        reapers = (one.reaper_pid, two.reaper_pid)
        one.close()
        assert first.wait(timeout=5) == -signal.SIGKILL
        assert not folder.exists()
        assert second.poll() is None, "closing one Cleanup touched the other's group"
        assert _gone(reapers[0]) and _alive(reapers[1])

        two.forget_group(second.pid)
        two.close()
        assert second.poll() is None, "a forgotten group is not killed"
        assert _gone(reapers[1])
    finally:
        for c in (one, two):
            c.close()
        for p in (first, second):
            p.kill()
            p.wait()


def test_close_is_idempotent_unregisters_atexit_and_refuses_new_work() -> None:
    with Cleanup() as owned:
        pass
    assert owned.closed
    owned.close()
    with pytest.raises(HarnessError, match="closed"):
        owned.register_group(os.getpid())
    with pytest.raises(HarnessError, match="closed"):
        owned.make_temp_dir("rrh-unit-")


def test_the_reaper_kills_what_is_registered_when_its_owner_is_sigkilled(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    code = (
        "import subprocess, sys, time\n"
        "from harness.env.cleanup import Cleanup\n"
        "c = Cleanup()\n"
        "p = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        "c.register_group(p.pid)\n"
        "d = c.make_temp_dir('rrh-unit-')\n"
        f"open({str(ready)!r}, 'w').write(f'{{p.pid}} {{d}} {{c.reaper_pid}}')\n"
        "time.sleep(300)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not (ready.exists() and ready.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        pid, folder, reaper = ready.read_text().split()
        assert _alive(int(pid)) and Path(folder).is_dir()
        owner.kill()
        owner.wait(timeout=5)
        assert _gone(int(pid)), "the reaper did not kill the registered group"
        assert _gone(int(reaper)), "the reaper did not exit"
        assert not Path(folder).exists()
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


def test_interrupt_is_remembered_on_its_own_cleanup() -> None:
    one, two = Cleanup(), Cleanup()
    try:
        with pytest.raises(KeyboardInterrupt):
            one.interrupt(signal.SIGTERM, None)
        assert one.interrupted and not two.interrupted
        with pytest.raises(KeyboardInterrupt):
            one.raise_if_interrupted()
        two.raise_if_interrupted()  # nothing arrived for this one
    finally:
        one.close()
        two.close()


def test_kill_group_ignores_a_group_that_is_gone() -> None:
    process = _group()
    cleanup_module.kill_group(process.pid)
    assert process.wait(timeout=5) == -signal.SIGKILL
    cleanup_module.kill_group(process.pid)  # reaped: no such group, no error

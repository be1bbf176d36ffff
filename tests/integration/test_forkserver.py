"""Our Python servers forked from a warm fork server behave like ones started cold: the
command's argv, env and cwd, a log, signals to the group, restart, and early exits
reported with the log's tail; nothing outlives the fork server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.env.cleanup import Cleanup
from harness.env.forkserver import ForkServer
from harness.env.ports import free_port
from harness.env.process import ManagedProcess, ProcessFailed, http_ready

APP = '''
import os, sys

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = f"{os.environ.get('X_FORKED', '-')}|{os.getcwd()}|{sys.argv[1:]}|{os.getpid()}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
'''


@pytest.fixture
def forks(no_leftovers) -> Iterator[tuple[ForkServer, Cleanup]]:
    with Cleanup() as cleanup, ForkServer(cleanup) as server:
        yield server, cleanup


def _served(tmp_path: Path, forks: tuple[ForkServer, Cleanup], module: str = "forked_app:app") -> ManagedProcess:
    (tmp_path / "forked_app.py").write_text(APP)
    port = free_port()
    server, cleanup = forks
    return ManagedProcess(
        name="forked", argv=[sys.executable, "-m", "harness.serve", module, "--port", str(port)],
        log_path=tmp_path / "logs" / "forked.log", env={"X_FORKED": "yes"}, cwd=tmp_path,
        ready=http_ready(f"http://127.0.0.1:{port}/"), cleanup=cleanup, launcher=server,
    )


def test_a_forked_server_sees_its_own_command_env_and_folder(tmp_path: Path, forks) -> None:
    process = _served(tmp_path, forks)
    process.start()
    try:
        port = process.argv[-1]
        env, cwd, argv, pid = httpx.get(f"http://127.0.0.1:{port}/").text.split("|")
        assert (env, cwd) == ("yes", str(tmp_path))
        assert argv == str(["forked_app:app", "--port", port])
        assert int(pid) == process.pid and process.pid in forks[1].groups
        process.kill()
        assert not process.running
        process.start()  # a restart: same command and port, a new process
        assert int(httpx.get(f"http://127.0.0.1:{port}/").text.split("|")[3]) == process.pid != int(pid)
    finally:
        process.stop()
    assert "starting forked" in process.log_path.read_text()


def test_a_forked_server_that_exits_early_is_reported_with_its_log(tmp_path: Path, forks) -> None:
    process = _served(tmp_path, forks, module="no_such_module:app")
    with pytest.raises(ProcessFailed, match="before it was ready") as failed:
        process.start()
    assert "No module named 'no_such_module'" in str(failed.value)
    assert "exited with code 1" in process.log_path.read_text()


def test_children_die_with_the_fork_server(tmp_path: Path, no_leftovers) -> None:
    with Cleanup() as cleanup:
        server = ForkServer(cleanup)
        process = _served(tmp_path, (server, cleanup))
        process.start()
        child = process._popen
        assert child is not None and child.poll() is None
        server.close()  # the parent-death signal takes the child down
        child.wait(timeout=5)
        process.stop()


def test_without_a_working_fork_server_a_server_starts_the_ordinary_way(tmp_path: Path, no_leftovers) -> None:
    with Cleanup() as cleanup:
        server = ForkServer(cleanup)
        server.close()  # gone, as if it had crashed
        process = _served(tmp_path, (server, cleanup))
        process.start()
        try:
            port = process.argv[-1]
            assert httpx.get(f"http://127.0.0.1:{port}/").text.startswith("yes|")
            assert not server.can_run(process.argv)  # not asked again
            assert "starting it as a process" in process.log_path.read_text()
        finally:
            process.stop()

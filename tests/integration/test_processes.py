"""Managed processes, restate-server and Toxiproxy, with real processes."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from toxiproxy.api import APIConsumer

from harness.env.cleanup import Cleanup
from harness.env.links import ToxiproxyServer
from harness.env.ports import free_port, held_by_session
from harness.env.process import (
    ManagedProcess,
    PortTaken,
    ProcessFailed,
    http_ready,
    tcp_ready,
)
from harness.env.restate.admin import RestateAdmin
from harness.env.restate.server import RestateServer
from harness.errors import HarnessError

from .conftest import Leftovers, group_members, is_alive, wait_until_gone

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _http_server(tmp_path: Path, cleanup: Cleanup | None, name: str = "web") -> tuple[ManagedProcess, int]:
    port = free_port()
    process = ManagedProcess(
        name=name,
        argv=[sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        log_path=tmp_path / f"{name}.log",
        ready=http_ready(f"http://127.0.0.1:{port}/"),
        cwd=tmp_path,
        ready_timeout_s=10,
        cleanup=cleanup,
    )
    return process, port


@pytest.fixture
def web(cleanup: Cleanup, tmp_path: Path) -> Iterator[tuple[ManagedProcess, int]]:
    """An http.server on a free loopback port, set up after (torn down before) ``cleanup``
    and ``no_leftovers``."""
    process, port = _http_server(tmp_path, cleanup)
    try:
        yield process.start(), port
    finally:
        process.stop()


def _get(port: int, timeout: float = 2.0) -> int:
    return httpx.get(f"http://127.0.0.1:{port}/", timeout=timeout).status_code


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except ConnectionRefusedError:
        return True


# --- ManagedProcess ----------------------------------------------------------------------


def test_http_server_kill_restart_pause_resume_terminate(web: tuple[ManagedProcess, int]) -> None:
    process, port = web
    assert process.running
    assert _get(port) == 200

    first_pid = process.pid
    assert first_pid is not None
    process.kill()
    assert not process.running
    assert not is_alive(first_pid)
    assert not os.path.exists(f"/proc/{first_pid}")  # reaped, not a zombie
    assert _refused(port)

    process.restart()
    assert process.running
    assert process.pid != first_pid
    assert _get(port) == 200  # same argv, same port

    process.pause()
    assert process.paused
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
    assert time.monotonic() - started >= 0.4
    assert process.running  # stopped, not dead

    process.resume()
    assert not process.paused
    assert _get(port) == 200

    pid = process.pid
    assert pid is not None
    assert process.terminate(grace_s=5) is False  # http.server dies on SIGTERM
    assert not process.running
    assert not is_alive(pid)
    assert _refused(port)


def test_kill_while_paused_kills(web: tuple[ManagedProcess, int]) -> None:
    process, port = web
    pid = process.pid
    assert pid is not None
    process.pause()
    process.kill()
    assert not process.paused
    assert not is_alive(pid)
    assert _refused(port)


def test_signals_reach_the_whole_group(tmp_path: Path, cleanup: Cleanup) -> None:
    process = ManagedProcess(
        name="forker",
        argv=["sh", "-c", "sleep 300 & sleep 300"],
        log_path=tmp_path / "forker.log",
        ready=lambda: True,
        cleanup=cleanup,
    )
    process.start()
    try:
        leader = process.pid
        assert leader is not None
        deadline = time.monotonic() + 5
        while len(members := group_members(leader)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert leader in members
        assert cleanup.groups == {leader}
        children = members - {leader}
        assert children, f"sh did not fork into its group: {members}"
        for child in children:
            assert os.getpgid(child) == leader
        process.kill()
        assert wait_until_gone(members) == set(), "a group member survived kill()"
    finally:
        process.stop()


def test_process_that_exits_at_once_fails_with_its_log_tail(tmp_path: Path, cleanup: Cleanup) -> None:
    process = ManagedProcess(
        name="quitter",
        # The log starts with the harness's copy of the command line: print a computed
        # line so the assertion can only pass on the process's own output.
        argv=[sys.executable, "-c", "print('quitter: last words', 7 * 6); raise SystemExit(3)"],
        log_path=tmp_path / "quitter.log",
        ready=lambda: False,
        ready_timeout_s=10,
        cleanup=cleanup,
    )
    started = time.monotonic()
    with pytest.raises(ProcessFailed) as failed:
        process.start()
    assert time.monotonic() - started < 5  # noticed the exit, did not wait for the timeout
    message = str(failed.value)
    assert "quitter: last words 42" in message
    assert "code 3" in message
    assert str(tmp_path / "quitter.log") in message
    assert not process.running


def test_never_ready_process_is_killed_and_fails(tmp_path: Path, cleanup: Cleanup) -> None:
    process = ManagedProcess(
        name="sleeper",
        argv=[sys.executable, "-c", "print('sleeper: never ready', 7 * 6, flush=True); import time; time.sleep(300)"],
        log_path=tmp_path / "sleeper.log",
        ready=lambda: False,
        ready_timeout_s=1,
        cleanup=cleanup,
    )
    with pytest.raises(ProcessFailed) as failed:
        process.start()
    assert "not ready after" in str(failed.value)
    assert "sleeper: never ready 42" in str(failed.value)
    assert process.pid is not None and not is_alive(process.pid)


def test_a_server_whose_port_another_program_holds_is_not_taken_for_ready(tmp_path: Path, cleanup: Cleanup) -> None:
    """The race behind a registration that reached the wrong server: our server lost its
    port, and the program holding it answered the readiness probe."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        loser = ManagedProcess(
            name="loser",  # still starting up when the probe connects
            argv=[sys.executable, "-c", "import time; time.sleep(300)"],
            log_path=tmp_path / "loser.log",
            ready=tcp_ready(port),
            listens_on=port,
            ready_timeout_s=5,
            cleanup=cleanup,
        )
        with pytest.raises(PortTaken, match="another program holds it"):
            loser.start()
        assert loser.pid is not None and not is_alive(loser.pid)


def test_a_server_holding_its_own_port_is_ready(tmp_path: Path, cleanup: Cleanup) -> None:
    process, port = _http_server(tmp_path, cleanup)
    process.listens_on = port
    process.start()
    try:
        assert held_by_session(port, os.getsid(0)) is False  # the test's own session holds nothing there
        assert process.pid is not None and held_by_session(port, process.pid) is True
        assert _get(port) == 200
    finally:
        process.stop()


def test_a_restart_whose_port_was_taken_meanwhile_moves_to_a_fresh_one(tmp_path: Path, cleanup: Cleanup) -> None:
    moved_to: list[int] = []

    def relocated() -> ManagedProcess:
        process, port = _http_server(tmp_path, cleanup)
        moved_to.append(port)  # where its links would be re-pointed
        process.listens_on = port
        return process

    web, port = _http_server(tmp_path, cleanup)
    web.listens_on, web.relocate = port, relocated
    web.start()
    try:
        web.kill()
        with socket.socket() as other:  # another program binds the port in the instant it is free
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: the probes' connections linger
            other.bind(("127.0.0.1", port))
            other.listen()
            web.restart()
        [new_port] = moved_to
        assert new_port != port and _get(new_port) == 200
        assert web.pid is not None and held_by_session(new_port, web.pid) is True
    finally:
        web.stop()


def test_terminate_escalates_when_sigterm_is_ignored(tmp_path: Path, cleanup: Cleanup) -> None:
    log = tmp_path / "stubborn.log"
    process = ManagedProcess(
        name="stubborn",
        argv=[
            sys.executable,
            "-c",
            "import signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ignoring', 'SIGTERM', flush=True)\n"
            "time.sleep(300)\n",
        ],
        log_path=log,
        # Not the literal text of the script: the log starts with the command line.
        ready=lambda: "ignoring SIGTERM" in log.read_text(),
        ready_timeout_s=10,
        cleanup=cleanup,
    )
    process.start()
    try:
        pid = process.pid
        assert pid is not None
        started = time.monotonic()
        assert process.terminate(grace_s=1) is True
        assert 0.9 <= time.monotonic() - started < 5
        assert not process.running
        assert not is_alive(pid)
    finally:
        process.stop()


# --- restate-server ----------------------------------------------------------------------


def _listening_sockets(pids: set[int]) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket held by ``pids`` (from /proc/net)."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            address_hex, port_hex = local.split(":")
            found.append((_address(address_hex, v6), int(port_hex, 16)))
    return found


def _address(hex_address: str, v6: bool) -> str:
    raw = bytes.fromhex(hex_address)
    # /proc/net stores each 32-bit word in host (little-endian) order.
    fixed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, fixed)


def test_restate_server_start_restart_stop(tmp_path: Path, cleanup: Cleanup) -> None:
    server = RestateServer(tmp_path / "logs", cleanup=cleanup)
    admin: RestateAdmin | None = None
    try:
        server.start()
        assert server.process is not None and server.base_dir is not None
        base_dir = server.base_dir
        # The data dir and the server's temp files share one registered folder.
        assert base_dir.is_dir() and base_dir.name == "data" and base_dir.parent.name.startswith("restate-")
        assert cleanup.dirs == {str(base_dir.parent)} and cleanup.groups == {server.process.pid}
        ports = (server.ingress_port, server.admin_port, server.node_port)
        admin = RestateAdmin(server.admin_url)
        assert isinstance(admin.query("SELECT id FROM sys_invocation"), list)

        pid = server.process.pid
        assert pid is not None
        sockets = _listening_sockets(group_members(pid))
        listening_ports = {port for _, port in sockets}
        assert {server.ingress_port, server.admin_port, server.node_port} <= listening_ports, sockets
        not_loopback = [(a, p) for a, p in sockets if a not in ("127.0.0.1", "::ffff:127.0.0.1")]
        assert not not_loopback, f"restate-server listens beyond loopback: {not_loopback}"

        server.restart()
        assert server.process.pid != pid
        assert not is_alive(pid)
        assert (server.ingress_port, server.admin_port, server.node_port) == ports
        assert server.base_dir == base_dir and base_dir.is_dir()
        assert isinstance(admin.query("SELECT id FROM sys_invocation"), list)
        new_pid = server.process.pid
        assert new_pid is not None

        server.stop()
        assert server.base_dir is None
        assert not base_dir.parent.exists()
        assert not cleanup.dirs and not cleanup.groups
        assert not is_alive(new_pid)
        assert all(_refused(port) for port in ports)
    finally:
        if admin is not None:
            admin.close()
        server.stop()


# --- Toxiproxy ---------------------------------------------------------------------------


def _timed_get(url: str, timeout: float = 5.0) -> float:
    started = time.monotonic()
    response = httpx.get(url, timeout=timeout)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    return elapsed


def test_toxiproxy_latency_cut_heal(tmp_path: Path, web: tuple[ManagedProcess, int], cleanup: Cleanup) -> None:
    _, upstream_port = web
    toxiproxy = ToxiproxyServer(tmp_path / "logs", cleanup=cleanup)
    try:
        toxiproxy.start()
        assert toxiproxy.process is not None and toxiproxy.process.pid is not None
        link = toxiproxy.link("client->web", upstream_port)
        assert link.listen_port != upstream_port
        url = f"{link.url}/"

        def fastest(n: int = 3) -> float:
            return min(_timed_get(url) for _ in range(n))

        assert fastest() < 0.4

        toxic = link.add_toxic("latency", latency=500)
        slowed = _timed_get(url)
        assert slowed >= 0.5, f"latency toxic added only {slowed:.3f}s"

        link.remove_toxic(toxic)
        assert fastest() < 0.4

        link.cut()
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)
        assert _refused(link.listen_port)

        link.restore()
        assert fastest() < 0.4

        sockets = _listening_sockets(group_members(toxiproxy.process.pid))
        assert {toxiproxy.port, link.listen_port} <= {port for _, port in sockets}, sockets
        not_loopback = [(a, p) for a, p in sockets if a not in ("127.0.0.1", "::ffff:127.0.0.1")]
        assert not not_loopback, f"toxiproxy listens beyond loopback: {not_loopback}"
    finally:
        toxiproxy.stop()


def test_a_toxiproxy_whose_port_was_taken_moves_at_once(tmp_path: Path, cleanup: Cleanup) -> None:
    """Toxiproxy logs that its address is in use and keeps running without an API; seen in
    CI as "not ready after 20s" when another program took the port it had been given."""
    with socket.socket() as other:  # accepts connections and never answers, as a hung server
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        toxiproxy = ToxiproxyServer(tmp_path / "logs", port=taken, cleanup=cleanup)
        started = time.monotonic()
        try:
            toxiproxy.start()
            assert time.monotonic() - started < 5
            assert toxiproxy.port != taken and toxiproxy.version()
        finally:
            toxiproxy.stop()
    assert "address already in use" in (tmp_path / "logs" / "toxiproxy.log").read_text()


def test_two_toxiproxy_servers_at_once_each_get_their_own_calls(
    tmp_path: Path, web: tuple[ManagedProcess, int], cleanup: Cleanup
) -> None:
    """No class-level server address: links on two servers, used in turn, each reach their
    own server, and toxiproxy-python's ``APIConsumer`` is never rewritten."""
    _, upstream_port = web
    before = (APIConsumer.host, APIConsumer.port)
    first = ToxiproxyServer(tmp_path / "one", cleanup=cleanup)
    second = ToxiproxyServer(tmp_path / "two", cleanup=cleanup)
    try:
        first.start(), second.start()
        slow = first.link("client->web", upstream_port)
        fast = second.link("client->web", upstream_port)
        slow.add_toxic("latency", latency=500)
        assert set(first.api.toxics(slow.name)) == {"latency_downstream"}
        assert second.api.toxics(fast.name) == {}
        assert slow.name not in second.api.proxies() and fast.name not in first.api.proxies()
        assert _timed_get(f"{slow.url}/") >= 0.5
        assert _timed_get(f"{fast.url}/") < 0.4
        fast.cut()
        assert _refused(fast.listen_port) and not _refused(slow.listen_port)
        with pytest.raises(HarnessError, match="did not accept toxic no-such-kind"):
            fast.add_toxic("no-such-kind")
        assert (APIConsumer.host, APIConsumer.port) == before
    finally:
        first.stop()
        second.stop()


def test_a_process_made_without_a_cleanup_owns_one_while_it_runs(tmp_path: Path, no_leftovers: Leftovers) -> None:
    """A library user's bare ``ManagedProcess`` still has a reaper, and it ends with the process."""
    process, port = _http_server(tmp_path, None, name="bare")
    reapers = []
    try:
        process.start()
        assert _get(port) == 200
        reapers = no_leftovers.marked("harness.env.reaper")
        assert len(reapers) == 1, reapers
    finally:
        process.stop()
    assert wait_until_gone({p.pid for p in reapers}) == set(), "the process's own reaper outlived it"

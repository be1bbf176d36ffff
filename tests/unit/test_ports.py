"""Who listens on a port, read from /proc; a server that lost its port, and starting again on another."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from harness.env.ports import free_port, held_by_session
from harness.env.process import (
    PortTaken,
    ProcessFailed,
    exited_before_ready,
    retry_on_taken_port,
)


def test_a_listener_of_this_session_is_found_and_another_session_is_not() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert held_by_session(port, os.getsid(0)) is True
        assert held_by_session(port, os.getsid(0) + 1_000_000) is False


def test_a_port_nobody_listens_on_tells_nothing() -> None:
    assert held_by_session(free_port(), os.getsid(0)) is None


def test_a_connected_socket_is_not_a_listener() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            client_port = client.getsockname()[1]
            assert held_by_session(client_port, os.getsid(0)) is None


def test_without_proc_nothing_can_be_told(tmp_path: Path) -> None:
    assert held_by_session(80, os.getsid(0), proc=tmp_path) is None


@pytest.mark.parametrize("said", [
    "OSError: [Errno 98] Address already in use",  # Python (hypercorn, uvicorn)
    "Error: listen EADDRINUSE: address already in use 127.0.0.1:9080",  # Node.js
    "listen tcp 127.0.0.1:8474: bind: address already in use",  # Go (Toxiproxy)
    "failed binding to address '127.0.0.1:35169': Address in use (os error 98)",  # Rust (restate-server)
])
def test_a_server_that_exited_saying_its_address_was_in_use_lost_its_port(said: str, tmp_path: Path) -> None:
    assert isinstance(exited_before_ready("agent", 1, tmp_path / "agent.log", f"starting\n{said}"), PortTaken)
    other = exited_before_ready("agent", 1, tmp_path / "agent.log", "ModuleNotFoundError: No module named 'app'")
    assert type(other) is ProcessFailed and "No module named 'app'" in str(other)


def test_the_first_line_of_an_early_exit_names_the_logs_last_word(tmp_path: Path) -> None:
    """The CLI prints only the first line: it must say why, not only where the log is."""
    tail = "--- harness: starting agent: python app.py\nTraceback ...\nModuleNotFoundError: No module named 'hypercorn'\n\n"
    first = str(exited_before_ready("agent", 1, tmp_path / "agent.log", tail)).splitlines()[0]
    assert first.startswith("agent exited with code 1 before it was ready: ModuleNotFoundError: No module named")
    assert str(tmp_path / "agent.log") in first
    assert "before it was ready (its log" in str(exited_before_ready("agent", 1, tmp_path / "a.log", "--- harness: x\n"))


def test_a_start_that_lost_its_port_moves_and_starts_again_but_not_forever() -> None:
    tried: list[str] = []

    def start() -> str:
        tried.append("start")
        if tried.count("start") < 3:
            raise PortTaken("taken")
        return "up"

    assert retry_on_taken_port(start, lambda: tried.append("move")) == "up"
    assert tried == ["start", "move", "start", "move", "start"]

    def always_taken() -> str:
        raise PortTaken("taken again")

    moves: list[str] = []
    with pytest.raises(PortTaken):
        retry_on_taken_port(always_taken, lambda: moves.append("move"), attempts=2)
    assert moves == ["move"]


def test_other_failures_are_not_retried() -> None:
    def start() -> None:
        raise ProcessFailed("exited with code 3")

    with pytest.raises(ProcessFailed, match="code 3"):
        retry_on_taken_port(start, lambda: pytest.fail("moved on a failure that was not a taken port"))

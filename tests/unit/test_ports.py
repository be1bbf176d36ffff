"""Who listens on a port, read from /proc."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from harness.env.ports import free_port, held_by_session


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

"""Free loopback ports. The kernel picks them; a race with another program is handled
by the caller retrying start-up on a fresh port."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

"""Free loopback ports, and who listens on one.

The kernel picks free ports; between picking one and binding it, another program (or
another worker of ours) may take it. A server that loses the race exits, but a readiness
probe on the port is answered by the other program. ``held_by_session`` tells the two
apart, so the caller can start again on a fresh port.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refused(url: str, timeout_s: float = 2.0) -> str | None:
    """Why nothing accepts a connection at ``url``'s host and port, or None if something does:
    a bad address is one line at once, not a retry that runs into a deadline."""
    address = httpx.URL(url)
    port = address.port or (443 if address.scheme == "https" else 80)
    try:
        socket.create_connection((address.host, port), timeout=timeout_s).close()
    except OSError as exc:
        return str(exc.strerror or exc)
    return None


def held_by_session(port: int, session: int, proc: Path = Path("/proc")) -> bool | None:
    """Whether a process in ``session`` holds the listening TCP socket on ``port`` (any
    address). None when nothing visible here listens there: no /proc (not Linux), a
    server in another network namespace, or a process we may not inspect."""
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    sockets = {f"socket:[{inode}]" for inode in inodes}
    for entry in proc.iterdir():
        try:  # reading stat is cheap; only the session's members have their fds read
            if entry.name.isdigit() and _session(entry) == session:
                if any(os.readlink(fd) in sockets for fd in (entry / "fd").iterdir()):
                    return True
        except (OSError, ValueError):  # gone meanwhile, or not ours to read
            continue
    return False


def _listening_inodes(port: int, proc: Path) -> set[str]:
    wanted = f"{port:04X}"
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if len(fields) > 9 and fields[3] == _LISTEN and fields[1].rsplit(":", 1)[1] == wanted:
                inodes.add(fields[9])
    return inodes


def _session(process_dir: Path) -> int:
    stat = (process_dir / "stat").read_text()
    # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses
    return int(stat[stat.rindex(")") + 2:].split()[3])

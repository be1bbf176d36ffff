"""A watchdog that outlives the runner for one purpose: if the runner dies, even by
SIGKILL, every process group and temp dir it registered is destroyed.

The runner holds the write end of our stdin. Lines are ``add-group <pgid>``,
``drop-group <pgid>``, ``add-dir <path>`` and ``drop-dir <path>``. EOF means the runner is
gone (the kernel closes the pipe whatever killed it), so we clean up and exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGCONT)  # a paused group must be able to die
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the runner; we wait for EOF
    groups: set[int] = set()
    dirs: set[str] = set()
    for line in sys.stdin:
        verb, _, arg = line.strip().partition(" ")
        if verb == "add-group":
            groups.add(int(arg))
        elif verb == "drop-group":
            groups.discard(int(arg))
        elif verb == "add-dir":
            dirs.add(arg)
        elif verb == "drop-dir":
            dirs.discard(arg)
    for pgid in groups:
        _kill_group(pgid)
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()

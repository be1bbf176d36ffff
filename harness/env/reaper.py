"""A watchdog that outlives the runner for one purpose: if the runner dies, even by
SIGKILL, every process group, temp dir and container it registered is destroyed.

The runner holds the write end of our stdin. Lines are ``add-group <pgid>``,
``drop-group <pgid>``, ``add-dir <path>``, ``drop-dir <path>``, ``add-containers <id>``
(every Docker container labelled ``restate-resilience.run=<id>`` is the runner's) and
``add-filter <id>`` (the packet-filter chain and cgroups ``rrh-<id>`` are). EOF
means the runner is gone (the kernel closes the pipe whatever killed it), so we clean up
and exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys

from harness.env.packet_filter import sweep

# Every container the harness starts carries this label, its value the owner's run id
# (``Cleanup.owner_id``): whatever is left with it is removed by ``remove_containers``.
CONTAINER_LABEL = "restate-resilience.run"


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGCONT)  # a paused group must be able to die
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def remove_containers(owner_id: str) -> list[str]:
    """``docker rm -f`` every container labelled with ``owner_id`` (and its anonymous volumes);
    the names removed. The Docker SDK is imported only here: a run with no container
    never loads it. Quiet when there is no engine (then there is no container either)."""
    try:
        import docker  # noqa: PLC0415 - only for a run that started containers

        client = docker.from_env(timeout=30)
    except Exception:
        return []
    removed = []
    try:
        for container in client.containers.list(all=True, filters={"label": f"{CONTAINER_LABEL}={owner_id}"}):
            try:
                container.remove(force=True, v=True)
                removed.append(container.name)
            except Exception:
                pass
    except Exception:
        pass
    finally:
        client.close()
    return removed


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the runner; we wait for EOF
    groups: set[int] = set()
    dirs: set[str] = set()
    owners: set[str] = set()
    filters: set[str] = set()
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
        elif verb == "add-containers":
            owners.add(arg)
        elif verb == "add-filter":
            filters.add(arg)
    for pgid in groups:
        _kill_group(pgid)
    for owner_id in filters:  # after the kills: a cgroup goes once its processes have
        sweep(owner_id)
    for owner_id in owners:  # before the dirs: a container may use one
        remove_containers(owner_id)
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()

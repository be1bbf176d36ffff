"""Which Restate an environment runs, chosen by the settings: one restate-server process
(the default), a 3-node cluster (``topology="cluster"``), restate-server in a container
(``backend="docker"``), or a server someone else runs (``RESTATE_ADMIN_URL``). Every kind
offers the same small surface to the environment (``RestateLike``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from harness.context import Process
from harness.env.cleanup import Cleanup
from harness.env.links import Link
from harness.env.restate.server import RestateServer
from harness.settings import Settings

# Makes a Toxiproxy link named ``name`` to a loopback port: how a cluster routes the
# traffic between its nodes through links that faults can cut.
MakeLink = Callable[[str, int], Link]


class RestateLike(Protocol):
    """What an environment needs of its Restate, whatever runs it."""

    @property
    def admin_url(self) -> str: ...
    @property
    def ingress_port(self) -> int: ...
    @property
    def external(self) -> bool: ...
    def spawn(self) -> object: ...
    def wait_until_ready(self) -> object: ...
    def stop(self) -> None: ...
    def processes(self) -> dict[str, Process]:
        """The fault targets it offers, by name: ``restate`` for a single server; for a
        cluster also each node (``restate-1``...)."""
        ...


def restate_for(
    log_dir: Path,
    settings: Settings,
    cleanup: Cleanup,
    *,
    link: MakeLink,
    extra_env: dict[str, str],
    inactivity_timeout_s: float | None = None,
) -> RestateLike:
    timeouts = {"inactivity_timeout_s": inactivity_timeout_s} if inactivity_timeout_s is not None else {}
    if settings.external_restate:
        return RestateServer.from_settings(log_dir, settings, cleanup, extra_env=extra_env, **timeouts)
    if settings.topology == "cluster":
        from harness.env.restate.cluster import RestateCluster  # only when asked for

        return RestateCluster(log_dir, settings=settings, cleanup=cleanup, link=link, extra_env=extra_env, **timeouts)
    if settings.backend == "docker":
        from harness.env.docker.restate import (
            RestateContainer,  # docker and testcontainers only when asked for
        )

        return RestateContainer(log_dir, settings=settings, cleanup=cleanup, extra_env=extra_env, **timeouts)
    return RestateServer(log_dir, settings=settings, cleanup=cleanup, extra_env=extra_env, **timeouts)


__all__ = ["MakeLink", "RestateLike", "restate_for"]

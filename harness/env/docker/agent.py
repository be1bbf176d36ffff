"""An agent shipped as a container image (``validate --image IMAGE``): it runs on the
host's network and must listen on its port on loopback, the one ``--port`` names or the
one the harness picks and hands over in ``PORT``. It gets the same environment as an agent
process (``OPENAI_BASE_URL`` and the rest, the stubs' URLs), and faults reach it through
the container API (``ContainerProcess``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from harness.env.cleanup import Cleanup
from harness.env.docker.container import ContainerProcess
from harness.env.process import tcp_ready


def agent_container(
    name: str, image: str, port: int, *, env: Mapping[str, str], log_path: Path, cleanup: Cleanup,
    ready_timeout_s: float = 60.0,
) -> ContainerProcess:
    """The agent's container, not started yet (``spawn`` / ``start``); ready when its port
    accepts connections. ``port`` is also its ``.port`` and, in ``PORT``, its environment."""
    return ContainerProcess(
        name=name, image=image, log_path=log_path, ready=tcp_ready(port), cleanup=cleanup,
        env={**env, "PORT": str(port)}, port=port, ready_timeout_s=ready_timeout_s,
    )


__all__ = ["agent_container"]

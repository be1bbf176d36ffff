"""restate-server in a container (``Settings(backend="docker")``): the same server, env and
readiness as the native ``RestateServer`` (its retry policy, inactivity and abort timeouts,
loopback ports chosen here, ready when SQL answers), run from an image on the host's
network. Its data dir is inside the container, so a kill and a start keep the journal, and
removing the container at teardown removes the data."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.env.docker import engine as docker_engine
from harness.env.docker import images
from harness.env.docker.container import ContainerProcess
from harness.env.restate.server import RestateServer, _sql_ready
from harness.errors import HarnessError

# The invoker's temp folder: inside the container, so it goes with it.
CONTAINER_TMPDIR = "/tmp"


@dataclass
class RestateContainer(RestateServer):
    """``RestateServer``'s ports, env and URLs; a container instead of a process.
    ``processes()`` offers it as ``restate`` for faults."""

    image: str | None = field(default=None, init=False)  # resolved at spawn
    container: ContainerProcess | None = field(default=None, init=False)

    @property
    def external(self) -> bool:
        return False

    def _env(self) -> dict[str, str]:
        return {**super()._env(), "TMPDIR": CONTAINER_TMPDIR}

    def spawn(self) -> "RestateContainer":
        if self.image is None:
            self.image = images.restate_image(self.settings, docker_engine.client())
        self.container = ContainerProcess(
            name="restate-server",
            image=self.image,
            log_path=self.log_dir / "restate-server.log",
            ready=_sql_ready(self.admin_url),
            cleanup=self.cleanup,
            env=self._env(),
            command=["--base-dir", images.RESTATE_DATA_DIR, "--no-logo", "--listen-mode", "tcp"],
        )
        self.container.spawn()
        return self

    def processes(self) -> dict[str, ContainerProcess]:  # type: ignore[override]
        return {"restate": self.container} if self.container is not None else {}

    def stop(self) -> None:
        if self.container is not None:
            self.container.stop()
            self.container = None

    def _started(self) -> ContainerProcess:  # type: ignore[override]
        """The container, for ``RestateServer.wait_until_ready`` (ports taken: a new one) and faults."""
        if self.container is None:
            raise HarnessError("restate-server's container was never started")
        return self.container


__all__ = ["RestateContainer"]

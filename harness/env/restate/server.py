"""restate-server as a managed process: its own base dir and loopback ports, a retry policy
tuned for fast recovery, and restart on the same data dir."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.env import binaries
from harness.env.cleanup import Cleanup
from harness.env.ports import free_port
from harness.env.process import ManagedProcess, retry_on_taken_port
from harness.errors import HarnessError
from harness.restate_settings import FAST
from harness.settings import Settings

# Fast recovery for tests (harness.restate_settings.FAST): the server default (500 ms,
# doubling to 60 s) would turn a 1 s outage into many seconds of back-off, and a silent
# attempt is aborted in seconds, so a paused agent is detected in seconds.
FAST_RETRY_POLICY = FAST.retry.environment()
INACTIVITY_TIMEOUT_S = FAST.inactivity_s
ABORT_TIMEOUT_S = FAST.abort_s


@dataclass
class RestateServer:
    """One restate-server with its own base dir and loopback ports. ``restart()`` keeps
    both, which is how a scenario tests that the journal survives a crash. Its process and
    base dir are registered with ``cleanup``; ``settings`` says which binary to run."""

    log_dir: Path
    cleanup: Cleanup = field(kw_only=True, repr=False)
    settings: Settings = field(default_factory=Settings, kw_only=True, repr=False)
    inactivity_timeout_s: float = INACTIVITY_TIMEOUT_S
    abort_timeout_s: float = ABORT_TIMEOUT_S
    extra_env: dict[str, str] = field(default_factory=dict)
    ingress_port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    node_port: int = field(default_factory=free_port)
    external_admin_url: str | None = None  # a server someone else runs: never started or signalled
    external_ingress_url: str | None = None
    process: ManagedProcess | None = field(default=None, init=False)
    base_dir: Path | None = field(default=None, init=False)

    @classmethod
    def from_settings(cls, log_dir: Path, settings: Settings, cleanup: Cleanup, **options: Any) -> "RestateServer":
        """An already-running server if the settings name one (``RESTATE_ADMIN_URL`` and
        ``RESTATE_INGRESS_URL``, on this machine: the agents' links are on loopback), else our own."""
        admin, ingress = settings.restate_admin_url, settings.restate_ingress_url
        if admin and ingress:
            port = httpx.URL(ingress).port
            if port is None:  # Settings checks it; this keeps a hand-made server honest
                raise HarnessError(f"RESTATE_INGRESS_URL={ingress} must name a port")
            return cls(
                log_dir, cleanup=cleanup, settings=settings,
                external_admin_url=admin, external_ingress_url=ingress, ingress_port=port, **options,
            )
        return cls(log_dir, cleanup=cleanup, settings=settings, **options)

    @property
    def external(self) -> bool:
        return self.external_admin_url is not None

    @property
    def admin_url(self) -> str:
        return self.external_admin_url or f"http://127.0.0.1:{self.admin_port}"

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}"

    def _env(self) -> dict[str, str]:
        return {
            "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{self.ingress_port}",
            "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{self.admin_port}",
            "RESTATE_BIND_ADDRESS": f"127.0.0.1:{self.node_port}",
            "RESTATE_DEFAULT_NUM_PARTITIONS": "1",
            "RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE": "64 MB",
            "RESTATE_LOG_DISABLE_ANSI_CODES": "true",
            "RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": f"{int(self.inactivity_timeout_s * 1000)}ms",
            "RESTATE_WORKER__INVOKER__ABORT_TIMEOUT": f"{int(self.abort_timeout_s * 1000)}ms",
            **FAST_RETRY_POLICY,
            # The invoker makes a folder in the temp dir at every start and leaves it there: keep
            # it beside the data, in the folder teardown removes (inside the base dir, Restate
            # would take it for another node's data).
            **({"TMPDIR": str(self._tmp_dir())} if self.base_dir is not None else {}),
            **self.extra_env,
        }

    def _tmp_dir(self) -> Path:
        assert self.base_dir is not None
        tmp = self.base_dir.parent / "tmp"
        tmp.mkdir(exist_ok=True)
        return tmp

    def start(self) -> "RestateServer":
        self.spawn()
        return self.wait_until_ready()

    def spawn(self) -> "RestateServer":
        """Start the server without waiting for it (see ``wait_until_ready``)."""
        if self.external:
            return self
        if self.base_dir is None:
            self.base_dir = self.cleanup.make_temp_dir("restate-") / "data"
        self.process = ManagedProcess(
            name="restate-server",
            argv=[binaries.restate_server(self.settings), "--base-dir", str(self.base_dir), "--no-logo", "--listen-mode", "tcp"],
            env=self._env(),
            log_path=self.log_dir / "restate-server.log",
            ready=_sql_ready(self.admin_url),
            listens_on=self.admin_port,
            cleanup=self.cleanup,
        )
        self.process.spawn()
        return self

    def wait_until_ready(self) -> "RestateServer":
        """Ready when SQL introspection answers; if another program took one of the ports
        between picking and binding, start again on fresh ones."""
        if self.external:
            if not _sql_ready(self.admin_url)():
                raise HarnessError(f"RESTATE_ADMIN_URL={self.admin_url} does not answer SQL introspection: is it a Restate admin API?")
            return self

        def move() -> None:
            self._started().stop()
            self.ingress_port, self.admin_port, self.node_port = free_port(), free_port(), free_port()
            self.spawn()

        retry_on_taken_port(lambda: self._started().wait_until_ready(), move)
        return self

    def _started(self) -> "ManagedProcess":
        """What ``spawn`` started (a container, in ``RestateContainer``)."""
        if self.process is None:
            raise HarnessError("restate-server was never started")
        return self.process

    def processes(self) -> dict[str, "ManagedProcess"]:
        """Its fault target: ``restate`` (none for a server someone else runs)."""
        return {"restate": self.process} if self.process is not None else {}

    def kill(self) -> None:
        self._started().kill()

    def restart(self) -> None:
        """Start again on the same data dir and ports."""
        self._started().restart()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        if self.base_dir is not None:
            self.cleanup.remove_temp_dir(self.base_dir.parent)  # the data and the server's temp files
            self.base_dir = None


def _sql_ready(admin_url: str):
    """``/health`` answers before partitions can serve queries; wait for SQL to work."""

    def check() -> bool:
        try:
            response = httpx.post(
                f"{admin_url}/query",
                json={"query": "SELECT id FROM sys_invocation LIMIT 1"},
                headers={"accept": "application/json"},
                timeout=1.0,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    return check

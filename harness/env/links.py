"""Links: Toxiproxy proxies in front of every network path a fault can hit.

The Toxiproxy server is a managed process. Proxies and toxics are driven through
toxiproxy-python, which works against Toxiproxy v2.12 for create, toxics and
enable/disable. Its shortcomings are wrapped here: it keeps the server address in
class-level globals (so we set it before each use), it returns nothing for a created
toxic, and it silently ignores error statuses other than 400/404/409 (we check).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from toxiproxy.api import APIConsumer
from toxiproxy.server import Toxiproxy as _ToxiproxyClient

from harness.env import binaries
from harness.env.ports import free_port
from harness.env.process import ManagedProcess, http_ready
from harness.errors import HarnessError


@dataclass
class Link:
    """One proxied path, e.g. ``restate->router`` or ``router->llm``. Clients connect to
    ``listen_port``; traffic goes on to ``upstream``."""

    name: str
    listen_port: int
    upstream: str
    _server: "ToxiproxyServer"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"

    def add_toxic(self, kind: str, *, stream: str = "downstream", toxicity: float = 1.0, **attributes: Any) -> str:
        """Add a toxic (latency, reset_peer, timeout, bandwidth, slicer, limit_data); returns its name."""
        name = f"{kind}_{stream}"
        self._server.use()
        proxy = self._server.client.get_proxy(self.name)
        if proxy is None:
            raise HarnessError(f"link {self.name} does not exist in Toxiproxy")
        proxy.add_toxic(type=kind, stream=stream, name=name, toxicity=toxicity, attributes=attributes)
        if proxy.get_toxic(name) is None:
            raise HarnessError(f"Toxiproxy did not accept toxic {kind} {attributes} on {self.name}")
        return name

    def remove_toxic(self, name: str) -> None:
        self._server.use()
        proxy = self._server.client.get_proxy(self.name)
        if proxy is not None:
            proxy.destroy_toxic(name)

    def cut(self) -> None:
        """A partition: the proxy stops listening and drops its connections."""
        self._set_enabled(False)

    def restore(self) -> None:
        """Undo ``cut``: the proxy listens again."""
        self._set_enabled(True)

    def _set_enabled(self, enabled: bool) -> None:
        self._server.use()
        proxy = self._server.client.get_proxy(self.name)
        if proxy is None:
            raise HarnessError(f"link {self.name} does not exist in Toxiproxy")
        proxy.enable() if enabled else proxy.disable()


@dataclass
class ToxiproxyServer:
    """A Toxiproxy server on a loopback port, and the links created on it."""

    log_dir: Path
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = field(default=None, init=False)
    external: bool = False  # a server someone else runs: we only add and remove our own proxies
    links: dict[str, Link] = field(default_factory=dict, init=False)
    client: _ToxiproxyClient = field(default_factory=_ToxiproxyClient, init=False)
    _prefix: str = field(default_factory=lambda: f"rrh{secrets.token_hex(3)}-", init=False)

    @classmethod
    def from_environment(cls, log_dir: Path) -> "ToxiproxyServer":
        """An already-running Toxiproxy on loopback if ``TOXIPROXY_URL`` is set, else our own."""
        url = os.environ.get("TOXIPROXY_URL")
        if not url:
            return cls(log_dir)
        parsed = httpx.URL(url)
        if parsed.host not in ("127.0.0.1", "localhost") or parsed.port is None:
            raise HarnessError(f"TOXIPROXY_URL={url} must be http://127.0.0.1:<port>: links listen on loopback")
        return cls(log_dir, port=parsed.port, external=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ToxiproxyServer":
        if self.external:
            try:
                self.version()
            except httpx.HTTPError as exc:
                raise HarnessError(f"no Toxiproxy answers at {self.api_url}: {exc}") from None
            return self
        self.process = ManagedProcess(
            name="toxiproxy",
            argv=[binaries.toxiproxy_server(), "-host", "127.0.0.1", "-port", str(self.port)],
            log_path=self.log_dir / "toxiproxy.log",
            ready=http_ready(f"{self.api_url}/version"),
        )
        self.process.start()
        return self

    def use(self) -> None:
        # toxiproxy-python keeps the server address in class attributes.
        APIConsumer.host, APIConsumer.port = "127.0.0.1", self.port

    def version(self) -> str:
        return httpx.get(f"{self.api_url}/version", timeout=2).text.strip()

    def link(self, name: str, upstream_port: int, *, listen_port: int | None = None) -> Link:
        """Create a proxy from a fresh loopback port to ``127.0.0.1:upstream_port``."""
        self.use()
        upstream = f"127.0.0.1:{upstream_port}"
        for attempt in range(3):
            port = listen_port or free_port()
            try:
                self.client.create(upstream=upstream, name=self._prefix + name, listen=f"127.0.0.1:{port}", enabled=True)
                break
            except (KeyError, ValueError):  # toxiproxy-python parses an error body as a proxy
                if attempt == 2 or listen_port:
                    raise HarnessError(f"Toxiproxy refused link {name} on 127.0.0.1:{port} (port taken?)") from None
        link = Link(name=self._prefix + name, listen_port=port, upstream=upstream, _server=self)
        self.links[name] = link
        return link

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        elif self.external:  # leave the user's server as we found it
            self.use()
            for link in self.links.values():
                proxy = self.client.get_proxy(link.name)
                if proxy is not None:
                    proxy.destroy()

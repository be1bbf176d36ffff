"""Links: Toxiproxy proxies in front of every network path a fault can hit.

The Toxiproxy server is a managed process. Proxies and toxics are driven through
toxiproxy-python (``ToxiproxyAPI`` below), which works against Toxiproxy v2.12 for
create, toxics and enable/disable.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists
from toxiproxy.proxy import Proxy
from toxiproxy.toxic import Toxic

from harness.env import binaries
from harness.env.cleanup import Cleanup
from harness.env.ports import free_port
from harness.env.process import ManagedProcess, http_ready, retry_on_taken_port
from harness.errors import HarnessError
from harness.settings import Settings

if TYPE_CHECKING:
    import requests  # toxiproxy-python's HTTP client

_API_TIMEOUT_S = 10.0


class ToxiproxyAPI:
    """toxiproxy-python bound to one Toxiproxy server, with no class-level state.

    What we wrap, and why: toxiproxy-python keeps the server address in class attributes
    (``APIConsumer.host`` and ``.port``), and its ``Toxiproxy`` and ``Proxy`` methods call
    ``APIConsumer.get/post/delete`` by that global name, so it can speak to one server per
    Python process, whichever was set last. We keep its pieces that carry no address: its
    ``APIConsumer`` request code (through a subclass per server that holds this server's
    host and port, so the base class is never written), its status checks (409
    ``ProxyExists``, 404 ``NotFound``, 400 ``InvalidToxic``) and its ``Proxy`` and ``Toxic``
    models; and we make here the few calls its methods make, through that subclass. That
    also covers its other gaps: it returns nothing for a created toxic (we return the
    ``Toxic`` the server created), it parses an error body as if it were a proxy, and it
    ignores error statuses other than 400/404/409 (we check every status); and its
    requests carry no timeout (ours do)."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        # A class of its own: ``APIConsumer``'s classmethods build URLs from ``cls.host`` and
        # ``cls.port``, so they read this server's address and no one else's.
        self._consumer: type[APIConsumer] = type(
            f"APIConsumer_{host}_{port}", (APIConsumer,), {"host": host, "port": port}
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> "requests.Response":
        response = getattr(self._consumer, method)(path, timeout=_API_TIMEOUT_S, **kwargs)
        if not response.ok:
            raise HarnessError(
                f"Toxiproxy at {self.host}:{self.port} answered {method.upper()} {path} "
                f"with HTTP {response.status_code}: {response.text.strip()[:300]}"
            )
        return response

    def proxies(self) -> dict[str, Proxy]:
        return {name: Proxy(**values) for name, values in self._call("get", "/proxies").json().items()}

    def states(self) -> dict[str, tuple[bool, list[str]]]:
        """Every proxy's name: whether it is enabled, and its toxics' names (one request)."""
        return {
            name: (bool(values["enabled"]), [t["name"] for t in values.get("toxics") or []])
            for name, values in self._call("get", "/proxies").json().items()
        }

    def get_proxy(self, name: str) -> Proxy | None:
        try:
            return Proxy(**self._call("get", f"/proxies/{name}").json())
        except NotFound:
            return None

    def create(self, *, upstream: str, name: str, listen: str, enabled: bool = True) -> Proxy:
        """Raises ``ProxyExists`` if the name is taken, a HarnessError for any other refusal
        (a listen port in use)."""
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": enabled}
        return Proxy(**self._call("post", "/proxies", json=body).json())

    def destroy(self, name: str) -> None:
        self._call("delete", f"/proxies/{name}")

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._call("post", f"/proxies/{name}", json={"enabled": enabled})

    def toxics(self, proxy: str) -> dict[str, Toxic]:
        return {t["name"]: Toxic(**t) for t in self._call("get", f"/proxies/{proxy}/toxics").json()}

    def add_toxic(
        self, proxy: str, *, kind: str, stream: str, name: str, toxicity: float, attributes: dict[str, Any]
    ) -> Toxic:
        """Raises ``InvalidToxic`` if the server refuses it, ``NotFound`` if there is no such proxy."""
        body = {"name": name, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        return Toxic(**self._call("post", f"/proxies/{proxy}/toxics", json=body).json())

    def destroy_toxic(self, proxy: str, name: str) -> None:
        self._call("delete", f"/proxies/{proxy}/toxics/{name}")

    def version(self) -> str:
        return self._call("get", "/version").text.strip()


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
        api = self._server.api
        try:
            toxic = api.add_toxic(
                self.name, kind=kind, stream=stream, name=name, toxicity=toxicity, attributes=attributes
            )
        except NotFound:
            raise HarnessError(f"link {self.name} does not exist in Toxiproxy") from None
        except (InvalidToxic, ProxyExists) as exc:
            raise HarnessError(f"Toxiproxy did not accept toxic {kind} {attributes} on {self.name}: {_body(exc)}") from None
        if toxic.name != name or name not in api.toxics(self.name):
            raise HarnessError(f"Toxiproxy did not accept toxic {kind} {attributes} on {self.name}")
        return name

    def remove_toxic(self, name: str) -> None:
        """Remove a toxic; nothing to do if the link itself is gone."""
        api = self._server.api
        try:
            api.destroy_toxic(self.name, name)
        except NotFound:
            if api.get_proxy(self.name) is not None:
                raise HarnessError(f"link {self.name} has no toxic {name}") from None

    def repoint(self, upstream_port: int) -> None:
        """Send the link's new connections to another loopback port (a cluster's admin and
        ingress follow a node that is up)."""
        upstream = f"127.0.0.1:{upstream_port}"
        try:
            self._server.api._call("post", f"/proxies/{self.name}", json={"upstream": upstream})
        except NotFound:
            raise HarnessError(f"link {self.name} does not exist in Toxiproxy") from None
        self.upstream = upstream

    def cut(self) -> None:
        """A partition: the proxy stops listening and drops its connections."""
        self._set_enabled(False)

    def restore(self) -> None:
        """Undo ``cut``: the proxy listens again."""
        self._set_enabled(True)

    def _set_enabled(self, enabled: bool) -> None:
        try:
            self._server.api.set_enabled(self.name, enabled)
        except NotFound:
            raise HarnessError(f"link {self.name} does not exist in Toxiproxy") from None


def _body(exc: Exception) -> str:
    """The server's message carried by a toxiproxy-python exception (the raw body)."""
    raw = exc.args[0] if exc.args else b""
    return (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)).strip()[:300]


@dataclass
class ToxiproxyServer:
    """A Toxiproxy server on a loopback port, and the links created on it. Its process is
    registered with ``cleanup``; ``settings`` says which binary to run."""

    log_dir: Path
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = field(default=None, init=False)
    external: bool = False  # a server someone else runs: we only add and remove our own proxies
    cleanup: Cleanup = field(kw_only=True, repr=False)
    settings: Settings = field(default_factory=Settings, kw_only=True, repr=False)
    links: dict[str, Link] = field(default_factory=dict, init=False)
    api: ToxiproxyAPI = field(init=False, repr=False)  # toxiproxy-python, bound to this server
    _prefix: str = field(default_factory=lambda: f"rrh{secrets.token_hex(3)}-", init=False)

    def __post_init__(self) -> None:
        self.api = ToxiproxyAPI(self.port)

    @classmethod
    def from_settings(cls, log_dir: Path, settings: Settings, cleanup: Cleanup) -> "ToxiproxyServer":
        """An already-running Toxiproxy on loopback if the settings name one (``TOXIPROXY_URL``), else our own."""
        url = settings.toxiproxy_url
        if not url:
            return cls(log_dir, cleanup=cleanup, settings=settings)
        parsed = httpx.URL(url)
        if parsed.host not in ("127.0.0.1", "localhost") or parsed.port is None:  # Settings checks it too
            raise HarnessError(f"TOXIPROXY_URL={url} must be http://127.0.0.1:<port>: links listen on loopback")
        return cls(log_dir, port=parsed.port, external=True, cleanup=cleanup, settings=settings)

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

        def started() -> None:
            self.process = ManagedProcess(
                name="toxiproxy",
                argv=[binaries.toxiproxy_server(self.settings), "-host", "127.0.0.1", "-port", str(self.port)],
                log_path=self.log_dir / "toxiproxy.log",
                ready=http_ready(f"{self.api_url}/version"),
                listens_on=self.port,
                cleanup=self.cleanup,
            )
            self.process.start()

        def move() -> None:
            self.port = free_port()
            self.api = ToxiproxyAPI(self.port)

        retry_on_taken_port(started, move)
        return self

    def version(self) -> str:
        return httpx.get(f"{self.api_url}/version", timeout=2).text.strip()

    def disturbed_links(self) -> list[str]:
        """Our links that are cut or carry a toxic: a fault still in place, or one whose undo failed."""
        states = self.api.states()
        found = []
        for name, link in self.links.items():
            enabled, toxics = states.get(link.name, (True, []))
            if not enabled:
                found.append(f"link {name} is cut")
            elif toxics:
                found.append(f"link {name} carries {', '.join(toxics)}")
        return found

    def link(self, name: str, upstream_port: int, *, listen_port: int | None = None) -> Link:
        """Create a proxy from a fresh loopback port to ``127.0.0.1:upstream_port``."""
        upstream = f"127.0.0.1:{upstream_port}"
        for attempt in range(3):
            port = listen_port or free_port()
            try:
                self.api.create(upstream=upstream, name=self._prefix + name, listen=f"127.0.0.1:{port}", enabled=True)
                break
            except ProxyExists:
                raise HarnessError(f"link {name} exists already in Toxiproxy") from None
            except HarnessError as exc:  # another program took the port meanwhile: try another
                if attempt == 2 or listen_port:
                    raise HarnessError(f"Toxiproxy refused link {name} on 127.0.0.1:{port} (port taken?): {exc}") from None
        link = Link(name=self._prefix + name, listen_port=port, upstream=upstream, _server=self)
        self.links[name] = link
        return link

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        elif self.external:  # leave the user's server as we found it
            for link in self.links.values():
                try:
                    self.api.destroy(link.name)
                except NotFound:
                    pass

"""The harness's configuration, read once at the edge and passed in.

The command line and the pytest plugin build ``Settings.from_environ(os.environ)`` once and
hand it to every ``Environment`` (and to whatever resolves binaries); nothing below them
reads ``os.environ``. A library user who builds an ``Environment`` without settings gets
``Settings()``: the pinned ``.tools/bin`` binaries (then ``PATH``), our own restate-server
and Toxiproxy, and the scripted fake LLM.

Environment variables (the README's "Your own binaries or servers" and "Running against
your own OpenAI key"):

    RESTATE_SERVER_BIN, TOXIPROXY_SERVER_BIN    these binaries instead of .tools/bin, then PATH
    RESTATE_ADMIN_URL + RESTATE_INGRESS_URL     an already-running restate-server (both or neither)
    TOXIPROXY_URL                               an already-running Toxiproxy on loopback
    OPENAI_MODEL                                the model the agents ask for (gpt-4o-mini)
    LLM_UPSTREAM + OPENAI_API_KEY               a real provider behind the fake LLM
    OPENAI_API_KEY, ANTHROPIC_API_KEY,          the keys `validate --record` hands the agents to record a cassette
      GEMINI_API_KEY (or GOOGLE_API_KEY)
    RESILIENCE_TOPOLOGY                         single (one restate-server) or cluster (3 nodes)
    RESILIENCE_BACKEND                          native (processes) or docker (containers)
    RESTATE_IMAGE                               the restate-server image of the docker backend
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import httpx

from harness.errors import HarnessError

DEFAULT_LLM_MODEL = "gpt-4o-mini"
TOPOLOGIES = ("single", "cluster")
BACKENDS = ("native", "docker")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
OnMiss = Literal["auto", "fail"]
ON_MISS: tuple[OnMiss, ...] = ("auto", "fail")


@dataclass(frozen=True)
class Tape:
    """How a fake uses a cassette: record it (`record`: forward what the auto mode would
    answer, and write it down) or replay it, what a request it does not hold then gets
    (`on_miss`), and where the replay's lookups are noted (`log`, a `harness.fake_llm.cassette.ReplayLog`)."""

    path: str
    record: bool = False
    on_miss: OnMiss = "auto"
    log: str | None = None
    upstream: str | None = None  # recording: where to (the fake's --upstream); None: each provider's public URL


@dataclass(frozen=True)
class Settings:
    """Where the binaries and servers come from, and which LLM the agents talk to. Invalid
    combinations raise one ``HarnessError`` line when the settings are made."""

    restate_server_bin: str | None = None  # None: .tools/bin, then PATH
    toxiproxy_server_bin: str | None = None
    restate_admin_url: str | None = None  # with restate_ingress_url: a server someone else runs
    restate_ingress_url: str | None = None
    toxiproxy_url: str | None = None  # a Toxiproxy someone else runs, on loopback
    llm_model: str = DEFAULT_LLM_MODEL
    llm_upstream: str | None = None  # a real provider behind the fake LLM (an OpenAI-compatible /v1 URL)
    openai_api_key: str | None = field(default=None, repr=False)  # the provider's key: never printed
    anthropic_api_key: str | None = field(default=None, repr=False)
    gemini_api_key: str | None = field(default=None, repr=False)
    cassette: Tape | None = None  # real answers recorded, or replayed, in the auto mode's place (validate --record/--cassette)
    topology: str = "single"  # "cluster": three restate-server nodes, replication 2 (harness.env.restate.cluster)
    backend: str = "native"  # "docker": restate-server in a container (harness.env.docker)
    restate_image: str | None = None  # the docker backend's image; None: Restate's official one, else one built from the binary
    # Where `restate-resilience install` puts the pinned binaries (a per-user cache).
    tools_home: Path = field(default_factory=lambda: Path.home() / ".cache" / "restate-resilience")

    def __post_init__(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise HarnessError(f"topology {self.topology!r} is not one of {', '.join(TOPOLOGIES)}")
        if self.backend not in BACKENDS:
            raise HarnessError(f"backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.topology == "cluster" and self.backend == "docker":
            raise HarnessError("the cluster topology runs its nodes as processes: --backend docker is for one server")
        if self.restate_admin_url and (self.topology != "single" or self.backend != "native"):
            raise HarnessError("RESTATE_ADMIN_URL names a running restate-server: the topology and backend are its own")
        if bool(self.restate_admin_url) != bool(self.restate_ingress_url):
            raise HarnessError("set both RESTATE_ADMIN_URL and RESTATE_INGRESS_URL to use a running restate-server")
        if self.restate_admin_url:
            _url("RESTATE_ADMIN_URL", self.restate_admin_url)
        if self.restate_ingress_url and _url("RESTATE_INGRESS_URL", self.restate_ingress_url).port is None:
            raise HarnessError(f"RESTATE_INGRESS_URL={self.restate_ingress_url} must name a port")
        if self.toxiproxy_url:
            parsed = _url("TOXIPROXY_URL", self.toxiproxy_url)
            if parsed.host not in LOOPBACK_HOSTS or parsed.port is None:
                raise HarnessError(
                    f"TOXIPROXY_URL={self.toxiproxy_url} must be http://127.0.0.1:<port>: links listen on loopback"
                )
        if not self.llm_model:
            raise HarnessError("OPENAI_MODEL is empty: name the model the agents should ask for")
        if self.llm_upstream:
            if _url("LLM_UPSTREAM", self.llm_upstream).scheme not in ("http", "https"):
                raise HarnessError(
                    f"LLM_UPSTREAM={self.llm_upstream} must be an http(s) base URL such as https://api.openai.com/v1"
                )
            if not self.openai_api_key:
                raise HarnessError("LLM_UPSTREAM is set but OPENAI_API_KEY is not: the agents need your provider's key")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Settings":
        """Settings from environment variables; an empty variable counts as unset."""

        def get(name: str) -> str | None:
            return environ.get(name) or None

        return cls(
            restate_server_bin=get("RESTATE_SERVER_BIN"),
            toxiproxy_server_bin=get("TOXIPROXY_SERVER_BIN"),
            restate_admin_url=get("RESTATE_ADMIN_URL"),
            restate_ingress_url=get("RESTATE_INGRESS_URL"),
            toxiproxy_url=get("TOXIPROXY_URL"),
            llm_model=get("OPENAI_MODEL") or DEFAULT_LLM_MODEL,
            llm_upstream=get("LLM_UPSTREAM"),
            openai_api_key=get("OPENAI_API_KEY"),
            anthropic_api_key=get("ANTHROPIC_API_KEY"),
            gemini_api_key=get("GEMINI_API_KEY") or get("GOOGLE_API_KEY"),
            topology=get("RESILIENCE_TOPOLOGY") or "single",
            backend=get("RESILIENCE_BACKEND") or "native",
            restate_image=get("RESTATE_IMAGE"),
            tools_home=Path(get("RESTATE_RESILIENCE_HOME") or Path(get("XDG_CACHE_HOME") or Path.home() / ".cache")
                            / "restate-resilience"),
        )

    def choosing(self, *, topology: str | None = None, backend: str | None = None) -> "Settings":
        """These settings with the command line's ``--topology`` / ``--backend``, when given."""
        return replace(self, topology=topology or self.topology, backend=backend or self.backend)

    @property
    def external_restate(self) -> bool:
        return self.restate_admin_url is not None

    @property
    def scripted_answers(self) -> bool:
        """True when the fake LLM answers from scripts, False when a real provider answers."""
        return self.llm_upstream is None


def topology_options(parser: "argparse.ArgumentParser") -> None:
    """``--topology`` and ``--backend``, shared by ``run``, ``soak`` and ``validate``."""
    parser.add_argument("--topology", choices=TOPOLOGIES, default=None,
                        help="single: one restate-server (default); cluster: 3 nodes, replication 2, "
                             "node-to-node traffic through Toxiproxy links (env RESILIENCE_TOPOLOGY)")
    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help="native: restate-server as a process (default); docker: in a container, through "
                             "testcontainers (env RESILIENCE_BACKEND; image: RESTATE_IMAGE)")


def _url(name: str, value: str) -> httpx.URL:
    try:
        parsed = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise HarnessError(f"{name}={value} is not a URL: {exc}") from None
    if not parsed.scheme or not parsed.host:
        raise HarnessError(f"{name}={value} is not a URL: it needs a scheme and a host, e.g. http://127.0.0.1:9070")
    return parsed


__all__ = ["BACKENDS", "DEFAULT_LLM_MODEL", "TOPOLOGIES", "Settings", "topology_options"]

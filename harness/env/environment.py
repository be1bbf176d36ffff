"""An environment: one isolated set of running parts for a scenario — restate-server,
Toxiproxy, the fake LLM and the agents — wired so that every network path a fault can
hit goes through a Toxiproxy link:

    workload --client->restate--> ingress
    restate  --restate->{agent}--> agent deployment   (registered at the link's address)
    agent    --{agent}->llm-----> fake LLM
    agent    --{agent}->{stub}--> a recording stub     (its URL in the stub's env var)

``Environment`` is a context manager: leaving it, normally or by an exception or
Ctrl-C, stops every process and removes every temp dir.

It is given its configuration (``Settings``: binaries, external servers, the LLM) and the
``Cleanup`` its processes and temp dirs are registered with; the command line and the
pytest plugin make both once. Made without them, it uses ``Settings()`` and owns a
``Cleanup`` that it closes on exit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from harness.env.binaries import PROJECT_ROOT
from harness.env.cleanup import Cleanup
from harness.env.forkserver import ForkServer
from harness.env.links import Link, ToxiproxyServer
from harness.env.ports import free_port
from harness.env.providers import provider_environment
from harness.env.process import (
    ManagedProcess,
    http_ready,
    retry_on_taken_port,
    tcp_ready,
)
from harness.env.restate.admin import Deployment, RestateAdmin
from harness.env.restate.deployment import RestateLike, restate_for
from harness.env.restate.ingress import RestateIngress
from harness.errors import HarnessError
from harness.fake_llm import FakeLLM
from harness.restate_settings import FAST, RestateSettings
from harness.settings import Settings
from harness.stubs.client import StubClient
from harness.stubs.spec import Stub
from harness.timing import Phases


@dataclass(frozen=True)
class AgentSpec:
    """How to run one agent deployment. ``command`` may use ``{port}``; for a Python
    Restate app, ``python_app("pkg.module:app")`` builds it."""

    name: str
    command: tuple[str, ...]
    services: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: Path = field(default_factory=Path.cwd)
    label: str = ""  # how results name it, e.g. "local-router" or "mutant:unjournaled-routing"
    stubs: tuple[Stub, ...] = ()  # outside services it calls, e.g. (REFUNDS,): each gets its URL in its env var
    url: str | None = None  # a deployment someone else runs: registered through a link, never signalled
    image: str | None = None  # an agent shipped as a container image (harness.env.docker.agent), gets PORT
    container_port: int | None = None  # the port that image listens on; None: the harness picks one

    def with_values(self, values: dict[str, str]) -> "AgentSpec":
        """The command and env with ``{port}``, ``{llm_url}``, ``{ingress_url}`` and
        ``{admin_url}`` filled in (unknown placeholders are left alone)."""

        def fill(text: str) -> str:
            for key, value in values.items():
                text = text.replace("{" + key + "}", value)
            return text

        return replace(self, command=tuple(fill(p) for p in self.command), env=tuple((k, fill(v)) for k, v in self.env))


def python_app(
    name: str,
    app: str,
    services: Sequence[str] = (),
    *,
    label: str = "",
    stubs: Sequence[Stub] = (),
    cwd: Path | str | None = None,
) -> AgentSpec:
    """A Restate app (``"my_pkg.module:app"``) served by ``harness.serve`` (hypercorn,
    in-process, loopback), importable from ``cwd`` (default: the current directory)."""
    command = (sys.executable, "-m", "harness.serve", app, "--port", "{port}")
    folder = Path(cwd).resolve() if cwd is not None else Path.cwd()
    return AgentSpec(name, command, tuple(services), label=label, stubs=tuple(stubs), cwd=folder)


@dataclass
class Environment:
    """Start with ``with Environment(agents, folder, settings=..., cleanup=...) as env:``."""

    agents: Sequence[AgentSpec]
    folder: Path
    llm_timeout_s: float = 2.0  # the agents' LLM client timeout: a hung LLM costs this much
    restate_env: dict[str, str] = field(default_factory=dict)
    inactivity_timeout_s: float | None = None  # None: the tests' default (harness/restate.py)
    always_replay: bool = False  # inactivity timeout 0: every await suspends, every resume replays
    settings: Settings = field(default_factory=Settings, kw_only=True)
    cleanup: Cleanup | None = field(default=None, kw_only=True)  # None: one of its own, closed on exit
    launcher: ForkServer | None = field(default=None, kw_only=True)  # forks our Python servers warm (harness.env.forkserver)
    restate: RestateLike = field(init=False)
    toxiproxy: ToxiproxyServer = field(init=False)
    llm: FakeLLM = field(init=False)
    admin: RestateAdmin = field(init=False)
    ingress: RestateIngress = field(init=False)
    llm_port: int = field(default=0, init=False)
    stubs: list[StubClient] = field(default_factory=list, init=False)  # the stubs the agents need, running
    processes: dict[str, ManagedProcess] = field(default_factory=dict, init=False)
    deployments: dict[str, Deployment] = field(default_factory=dict, init=False)  # by agent name
    links: dict[str, Link] = field(default_factory=dict, init=False)
    phases: Phases = field(default_factory=Phases, init=False)  # where start-up's time went
    _stack: ExitStack = field(default_factory=ExitStack, init=False)
    _cleanup: Cleanup = field(init=False, repr=False)

    @property
    def restate_settings(self) -> RestateSettings | None:
        """The timeouts and retry policy its restate-server runs with (None: someone else's server)."""
        if self.restate.external:
            return None
        inactivity = 0.0 if self.always_replay else self.inactivity_timeout_s
        return replace(FAST, inactivity_s=FAST.inactivity_s if inactivity is None else inactivity)

    @property
    def llm_model(self) -> str:
        return self.settings.llm_model

    @property
    def llm_upstream(self) -> str | None:
        """A real provider behind the fake LLM, or None."""
        return self.settings.llm_upstream

    def __enter__(self) -> "Environment":
        if self.cleanup is not None:
            self._cleanup = self.cleanup
        else:  # closed last: after every process it registered has stopped
            self._cleanup = self._stack.enter_context(Cleanup())
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        logs = self.folder / "logs"
        # Stop callbacks go on the stack before each start, so that a failed or interrupted
        # start-up still tears down what it had begun (a temp dir, a half-ready server).
        self.toxiproxy = ToxiproxyServer.from_settings(logs, self.settings, self._cleanup)
        self._stack.callback(self.toxiproxy.stop)
        with self.phases.measure("start toxiproxy"):
            self.toxiproxy.start()

        self.restate = restate_for(
            logs, self.settings, self._cleanup, link=self._link, extra_env=self.restate_env,
            inactivity_timeout_s=0.0 if self.always_replay else self.inactivity_timeout_s,
        )
        self._stack.callback(self.restate.stop)

        # Independent processes boot side by side: their start-ups (an interpreter, a
        # server) dominate the time to a ready environment. All are spawned from this
        # thread (see ``ManagedProcess.spawn``) and only then waited for.
        spawning = time.perf_counter()
        self.restate.spawn()
        # The client link exists before the agents start: an agent may be handed it ({ingress_url}).
        client_link = self._link("client->restate", self.restate.ingress_port)
        # Our helpers' ports are known at spawn, so the agents can be given them before the
        # helpers are ready (an agent reaches them only when it serves a request).
        helpers = {"llm": self._helper("fake-llm", "harness.fake_llm", logs, *self._llm_options())}
        stubs = list(dict.fromkeys(s for agent in self.agents for s in agent.stubs))
        for stub in stubs:
            helpers[stub.name] = self._helper(stub.name, "harness.stubs.recording", logs, *stub.options(),
                                              health="/_stub/health")
        spawned = {name: self._spawn_on_free_port(make) for name, make in helpers.items()}
        self.llm_port = spawned["llm"][1]
        stub_ports = {stub.name: spawned[stub.name][1] for stub in stubs}
        booting = [(agent, *self._spawn_agent(agent, logs, stub_ports)) for agent in self.agents if agent.url is None]
        self.phases.add("spawn processes", time.perf_counter() - spawning)
        with self.phases.measure("fake LLM and stubs ready"):
            helper_ports = self._wait_for_helpers(spawned, helpers)
        self.llm_port = helper_ports["llm"]
        stub_ports = {stub.name: helper_ports[stub.name] for stub in stubs}
        self.llm = FakeLLM(f"http://127.0.0.1:{self.llm_port}")
        self.stubs = [StubClient(stub, f"http://127.0.0.1:{stub_ports[stub.name]}") for stub in stubs]
        with self.phases.measure("restate-server ready"):
            self.restate.wait_until_ready()
        if client_link.upstream != f"127.0.0.1:{self.restate.ingress_port}":  # it moved off a port taken meanwhile
            client_link.repoint(self.restate.ingress_port)
        with self.phases.measure("agents ready"):
            ports = {agent.name: self._ready(agent.name, process, port, make) for agent, process, port, make in booting}
        ports |= {agent.name: _port_of(agent.url) for agent in self.agents if agent.url is not None}

        self.processes.update(self.restate.processes())
        self.admin = RestateAdmin(self.restate.admin_url)
        self._stack.callback(self.admin.close)
        self.ingress = RestateIngress(client_link.url)
        self._stack.callback(self.ingress.close)
        with self.phases.measure("registration"):
            for agent in self.agents:
                self._register(agent, ports[agent.name])

    def _llm_options(self) -> tuple[str, ...]:
        """The fake LLM's options: its upstream, or the cassette it records or replays."""
        tape = self.settings.cassette
        if tape is None:
            return ("--upstream", self.llm_upstream) if self.llm_upstream else ()
        if tape.record:
            return ("--record", tape.path, *(("--upstream", tape.upstream) if tape.upstream else ()))
        return ("--cassette", tape.path, "--on-miss", tape.on_miss, *(("--cassette-log", tape.log) if tape.log else ()))

    def _wait_for_helpers(
        self, spawned: dict[str, tuple[ManagedProcess, int]], makers: dict[str, Callable[[int], ManagedProcess]]
    ) -> dict[str, int]:
        """Wait for the fake LLM and the stubs; returns the port each serves on. One that
        lost its port starts on another, and the agents' links to it follow it there."""
        ports = {}
        for name, (process, port) in spawned.items():
            self.processes[name] = process
            ports[name] = self._ready(name, process, port, makers[name])
            if ports[name] != port:
                for link in self.links.values():
                    if link.upstream == f"127.0.0.1:{port}":
                        link.repoint(ports[name])
        return ports

    def _helper(
        self, name: str, module: str, logs: Path, *options: str, health: str = "/health"
    ) -> Callable[[int], ManagedProcess]:
        """A Python helper server of ours (the fake LLM, a recording stub)."""

        def make(port: int) -> ManagedProcess:
            return ManagedProcess(
                name=name,
                argv=[sys.executable, "-m", module, "--host", "127.0.0.1", "--port", str(port), *options],
                log_path=logs / f"{name}.log",
                ready=http_ready(f"http://127.0.0.1:{port}{health}"),
                listens_on=port,
                cwd=PROJECT_ROOT,
                cleanup=self._cleanup,
                launcher=self.launcher,
            )

        return make

    def _spawn_on_free_port(self, make: Callable[[int], ManagedProcess], port: int | None = None) -> tuple[ManagedProcess, int]:
        port = port or free_port()
        process = make(port)
        self._stack.callback(process.stop)
        return process.spawn(), port

    def _ready(self, name: str, process: ManagedProcess, port: int, make: Callable[[int], ManagedProcess]) -> int:
        """Wait for a spawned process; if another program took its port in between, start
        it again on a fresh one. Returns the port it serves on."""

        def move() -> None:
            nonlocal process, port
            process, port = self._spawn_on_free_port(make)

        retry_on_taken_port(lambda: process.wait_until_ready(), move, attempts=4)
        self.processes[name] = process
        return port

    def _link(self, name: str, upstream_port: int) -> Link:
        link = self.toxiproxy.link(name, upstream_port)
        self.links[name] = link
        return link

    def _spawn_agent(
        self, agent: AgentSpec, logs: Path, stub_ports: dict[str, int]
    ) -> tuple[ManagedProcess, int, Callable[[int], ManagedProcess]]:
        """Spawn one agent with its LLM (and stub) links; returns the process, its port and
        how to make it again on another port."""
        llm_link = self._link(f"{agent.name}->llm", self.llm_port)
        stubs = {stub.env_var: self._link(f"{agent.name}->{stub.name}", stub_ports[stub.name]).url for stub in agent.stubs}

        def agent_process(port: int) -> ManagedProcess:
            filled = agent.with_values(
                {"port": str(port), "llm_url": f"{llm_link.url}/v1", "ingress_url": self.links["client->restate"].url,
                 "admin_url": self.restate.admin_url}
            )
            env = {
                **provider_environment(llm_link.url, **self._keys()),
                "OPENAI_MODEL": self.llm_model,
                "OPENAI_TIMEOUT_S": str(self.llm_timeout_s),
                "PYTHONUNBUFFERED": "1",
                **stubs,
                **dict(filled.env),
            }
            if agent.image is not None:  # docker only when asked for
                from harness.env.docker.agent import agent_container

                return agent_container(agent.name, agent.image, port, env=env, log_path=logs / f"{agent.name}.log",
                                       cleanup=self._cleanup)
            return ManagedProcess(
                name=agent.name,
                argv=list(filled.command),
                env=env,
                log_path=logs / f"{agent.name}.log",
                ready=tcp_ready(port),
                listens_on=port,
                relocate=relocated,
                cwd=agent.cwd,
                cleanup=self._cleanup,
                launcher=self.launcher,
            )

        def relocated() -> ManagedProcess:
            """The agent on a fresh port, Restate's link to it following (its deployment's
            address, the link's, stays)."""
            port = free_port()
            if (link := self.links.get(f"restate->{agent.name}")) is not None:
                link.repoint(port)
            return agent_process(port)

        process, port = self._spawn_on_free_port(agent_process, agent.container_port)
        self.processes[agent.name] = process
        return process, port, agent_process

    def _keys(self) -> dict[str, str | None]:
        """The provider keys the agents get: the user's own when a real provider answers
        (forwarded by the fake, never recorded); otherwise a dummy."""
        recording = self.settings.cassette is not None and self.settings.cassette.record
        if recording:
            return {"openai_key": self.settings.openai_api_key, "anthropic_key": self.settings.anthropic_api_key,
                    "gemini_key": self.settings.gemini_api_key}
        return {"openai_key": (self.settings.openai_api_key or "") if self.llm_upstream else None}

    def _register(self, agent: AgentSpec, port: int) -> None:
        """Register the agent's deployment at its link's address, and check its services."""
        deployment_link = self._link(f"restate->{agent.name}", port)
        try:
            registered = self.admin.register(deployment_link.url)
        except HarnessError as exc:
            if agent.url is None:
                raise
            # Name the address the user gave, not the link's proxy port in front of it.
            raise HarnessError(f"{agent.url} is not a Restate deployment Restate can reach: "
                               f"{str(exc).replace(deployment_link.url, agent.url)}") from None
        self.deployments[agent.name] = registered
        found = registered.service_names
        missing = set(agent.services) - found
        if missing:
            raise HarnessError(
                f"agent {agent.name} registered, but it does not offer {sorted(missing)} (it offers {sorted(found)})"
            )

    def recycle(self) -> list[str]:
        """Clear what a scenario left here, so that another can run on the same processes:
        the fake LLM's rules and calls, the stubs' ledgers, Restate's invocations (purged,
        once all are done). Then check that it really is clean. Returns why the environment
        cannot be reused (empty: it can)."""
        problems = [f"{name} is not running" for name, p in self.processes.items() if not p.running]
        problems += [f"{name} is paused" for name, p in self.processes.items() if p.paused]
        if self.toxiproxy.process is not None and not self.toxiproxy.process.running:
            problems.append("toxiproxy is not running")
        if problems:
            return problems
        try:
            left = self.admin.invocations(None)
            unfinished = [f"invocation {i.id} is {i.status}" for i in left if not i.done]
            if unfinished:  # a stuck or failing one would leak into the next scenario's history
                return unfinished
            self.llm.reset()
            for stub in self.stubs:
                stub.reset()
            for invocation in left:
                self.admin.purge_invocation(invocation.id)
            return self._leftovers()
        except (HarnessError, httpx.HTTPError) as exc:
            return [f"could not clear: {exc}"]

    def _leftovers(self, settle_s: float = 2.0) -> list[str]:
        """Anything a previous scenario could have left: invocations (a purge is applied
        asynchronously, so wait for it briefly), state, scripted rules, recorded calls,
        a link still cut or carrying a toxic."""
        deadline = time.monotonic() + settle_s
        while (invocations := self.admin.count("sys_invocation")) and time.monotonic() < deadline:
            time.sleep(0.02)
        found = [f"{invocations} invocation(s) left after purging"] if invocations else []
        if state := self.admin.count("state"):
            found.append(f"{state} state entr{'y' if state == 1 else 'ies'} left")
        if calls := len(self.llm.calls):
            found.append(f"the fake LLM still lists {calls} call(s)")
        if rules := len(self.llm.rules):
            found.append(f"the fake LLM still has {rules} scripted rule(s)")
        found += [f"the {stub.name} stub still lists calls" for stub in self.stubs if stub.ledger()]
        return found + self.toxiproxy.disturbed_links()

    def process(self, target: str) -> ManagedProcess:
        try:
            return self.processes[target]
        except KeyError:
            if target == "restate" and self.restate.external:
                raise HarnessError("restate-server is external (RESTATE_ADMIN_URL): the harness cannot signal it") from None
            raise HarnessError(f"unknown fault target {target!r}; known: {sorted(self.processes)}") from None

    def stub(self, name: str) -> StubClient:
        """A running stub, proxy or MCP server, by its name (``--stub NAME=...``)."""
        found = {stub.name: stub for stub in self.stubs}
        if name not in found:
            raise HarnessError(f"unknown tool service {name!r}; known: {sorted(found) or 'none'}")
        return found[name]

    def link(self, name: str) -> Link:
        try:
            return self.links[name]
        except KeyError:
            raise HarnessError(f"unknown link {name!r}; known: {sorted(self.links)}") from None


def _port_of(url: str) -> int:
    """The loopback port of a deployment someone else runs (links forward to loopback)."""
    parsed = httpx.URL(url)
    if parsed.host not in ("127.0.0.1", "localhost") or parsed.port is None:
        raise HarnessError(f"--url {url}: a running deployment must be http://127.0.0.1:<port> (links forward on loopback)")
    return parsed.port

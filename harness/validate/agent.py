"""The agent under test, as the user named it: deployments to start (``--cmd``), run from a
container image (``--image``, on ``--port`` or the ``PORT`` the harness picks) or reach
(``--url``), stubs for their side effects, the entry handler and its input."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from harness.env.environment import AgentSpec
from harness.env.ports import refused
from harness.errors import HarnessError
from harness.stubs.spec import Stub


@dataclass(frozen=True)
class AgentUnderTest:
    """What a validation validates: the deployments, and which handler it sends what to."""

    agents: tuple[AgentSpec, ...]
    entry: str | None = None  # "Service/handler"; None: the only public handler
    input: Any = None  # a JSON value with {token}; None: built from the handler's schema
    key: str | None = None  # for a Virtual Object or Workflow; None: a fresh key per request
    label: str = "agent"

    @property
    def images(self) -> tuple[str, ...]:
        """The container images of agents shipped as images."""
        return tuple(a.image for a in self.agents if a.image is not None)

    def check_reachable(self, timeout_s: float = 2.0) -> None:
        """Every ``--url`` deployment and every proxied service accepts a connection: one line
        at once when nothing listens there, not after a registration that retries for many
        seconds, nor at the baseline's deadline."""
        for stub in dict.fromkeys(s for agent in self.agents for s in agent.stubs):
            if stub.upstream is not None and (why := refused(stub.upstream, timeout_s)) is not None:
                raise HarnessError(f"{stub.option} {stub.name}: nothing answers at {stub.upstream} ({why})")
        for agent in self.agents:
            if agent.url is not None and (why := refused(agent.url, timeout_s)) is not None:
                raise HarnessError(f"--url {agent.url}: nothing answers there ({why})")

    @property
    def managed(self) -> bool:
        """Does the harness run (and so may kill) every deployment?"""
        return all(a.url is None for a in self.agents)


def parse_agent_under_test(
    cmds: Sequence[str],
    urls: Sequence[str],
    *,
    cwd: str | None = None,
    env: Sequence[str] = (),
    stubs: Sequence[str] = (),
    entry: str | None = None,
    input_json: str | None = None,
    key: str | None = None,
    images: Sequence[str] = (),
    port: int | None = None,
    proxies: Sequence[str] = (),
    mcp: Sequence[str] = (),
    mcp_tools: str | None = None,
) -> AgentUnderTest:
    """The CLI's words as an ``AgentUnderTest``; bad input is one HarnessError line."""
    if not cmds and not urls and not images:
        raise HarnessError("name the agent: --cmd 'COMMAND with {port}' (repeatable as NAME=COMMAND), --image IMAGE "
                           "or --url URL")
    if port is not None and (len(images) != 1 or not 0 < port < 65536):
        raise HarnessError("--port N is the port one --image agent listens on (1-65535)")
    folder = Path(cwd).resolve() if cwd else Path.cwd()
    if not folder.is_dir():
        raise HarnessError(f"--cwd {cwd}: no such directory")
    variables = tuple(_pair(e, "--env", "K=V") for e in env)
    stub_list = _stubs(stubs, proxies, mcp, mcp_tools)
    agents = [*_commands(cmds, variables, folder, stub_list)]
    for i, image in enumerate(images):
        name, reference = _named(image, f"image{i + 1}" if len(images) > 1 else "agent")
        agents.append(AgentSpec(name, (), env=variables, cwd=folder, label=name, stubs=stub_list,
                                image=reference, container_port=port))
    for i, url in enumerate(urls):
        name, address = _named(url, f"remote{i + 1}" if len(urls) > 1 else "remote")
        agents.append(AgentSpec(name, (), url=address, label=name))
    if len({a.name for a in agents}) != len(agents):
        raise HarnessError("deployment names must differ: use NAME=COMMAND")
    if entry is not None and not re.fullmatch(r"[A-Za-z_][\w.]*/[A-Za-z_]\w*", entry):
        raise HarnessError(f"--entry {entry!r}: expected Service/handler")
    value = None
    if input_json is not None:
        try:
            value = json.loads(input_json)
        except ValueError as exc:
            raise HarnessError(f"--input is not JSON: {exc}") from None
    label = "+".join(a.name for a in agents) if len(agents) > 1 else (
        Path(folder).name if cmds else agents[0].image or agents[0].url or "agent")
    return AgentUnderTest(tuple(agents), entry, value, key, label=label)


def _stubs(stubs: Sequence[str], proxies: Sequence[str], mcp: Sequence[str], mcp_tools: str | None) -> tuple[Stub, ...]:
    """``--stub``, ``--proxy`` and ``--mcp`` as stubs, each with its own name and variable."""
    if mcp_tools is not None and not any("=" not in m.partition("=")[2] for m in mcp):
        raise HarnessError("--mcp-tools FILE serves the tools of an --mcp NAME=ENV_VAR given without a URL")
    stub_list = (*(Stub.parse(s) for s in stubs), *(Stub.parse_proxy(p) for p in proxies),
                 *(Stub.parse_mcp(m, None if "=" in m.partition("=")[2] else mcp_tools) for m in mcp))
    if len({s.name for s in stub_list}) != len(stub_list) or len({s.env_var for s in stub_list}) != len(stub_list):
        raise HarnessError("each --stub, --proxy and --mcp needs its own NAME and ENV_VAR")
    return stub_list


def _commands(cmds: Sequence[str], variables: tuple[tuple[str, str], ...], folder: Path,
              stubs: tuple[Stub, ...]) -> list[AgentSpec]:
    """The ``--cmd`` deployments, each told its port through ``{port}``."""
    agents = []
    for i, cmd in enumerate(cmds):
        name, command = _named(cmd, f"agent{i + 1}" if len(cmds) > 1 else "agent")
        try:
            argv = tuple(shlex.split(command))
        except ValueError as exc:
            raise HarnessError(f"--cmd {cmd!r}: {exc}") from None
        if not argv:
            raise HarnessError(f"--cmd {cmd!r} is empty")
        if not any("{port}" in part for part in argv) and not any("{port}" in v for _, v in variables):
            raise HarnessError(f"--cmd {command!r} must use {{port}}: the harness picks the port the agent listens on")
        agents.append(AgentSpec(name, argv, env=variables, cwd=folder, label=name, stubs=stubs))
    return agents


def _named(text: str, default: str) -> tuple[str, str]:
    """``NAME=VALUE`` or just ``VALUE``; a value that merely contains '=' (``--opt=1``) keeps it."""
    found = re.match(r"^([a-z][a-z0-9_-]*)=(.+)$", text)
    return (found.group(1), found.group(2)) if found else (default, text)


def _pair(text: str, option: str, shape: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise HarnessError(f"{option} {text!r}: expected {shape}")
    return key, value

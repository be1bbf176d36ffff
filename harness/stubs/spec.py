"""What the user names on the command line for each outside service an agent calls: a
recording stub (``--stub``), a recording proxy in front of a service they run (``--proxy``),
or an MCP server (``--mcp``), served from a tools file or proxying theirs. Each is handed to
the agent as a URL in an environment variable."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from harness.errors import HarnessError

StubKind = Literal["stub", "proxy", "mcp"]
_NAME = r"[a-z][a-z0-9_-]*"
_ENV_VAR = r"[A-Za-z_][A-Za-z0-9_]*"


@dataclass(frozen=True)
class Stub:
    """An outside service the agent calls: its name (``refunds``), the variable that hands
    the agent its URL (``REFUNDS_URL``), how the harness serves it, and for a proxy (or an
    MCP server in front of the user's) the URL it forwards to."""

    name: str
    env_var: str
    kind: StubKind = "stub"
    upstream: str | None = None
    tools_file: Path | None = None  # an MCP server's declared tools (--mcp-tools)

    @property
    def mcp(self) -> bool:
        return self.kind == "mcp"

    @classmethod
    def parse(cls, text: str) -> "Stub":
        """``NAME=ENV_VAR`` (``--stub``)."""
        found = re.fullmatch(f"({_NAME})=({_ENV_VAR})", text)
        if not found:
            raise HarnessError(f"--stub is NAME=ENV_VAR, e.g. refunds=REFUNDS_URL; got {text!r}")
        return cls(found.group(1), found.group(2))

    @classmethod
    def parse_proxy(cls, text: str) -> "Stub":
        """``NAME=ENV_VAR=URL`` (``--proxy``): the user's service at URL, seen and broken by the harness."""
        found = re.fullmatch(f"({_NAME})=({_ENV_VAR})=(.+)", text)
        if not found:
            raise HarnessError(f"--proxy is NAME=ENV_VAR=URL, e.g. payments=PAYMENTS_URL=http://127.0.0.1:8000; "
                               f"got {text!r}")
        return cls(found.group(1), found.group(2), "proxy", _http_url(found.group(3), "--proxy"))

    @classmethod
    def parse_mcp(cls, text: str, tools_file: str | None) -> "Stub":
        """``NAME=ENV_VAR[=URL]`` (``--mcp``): proxy the user's MCP server at URL, or serve
        the tools of ``--mcp-tools FILE``."""
        found = re.fullmatch(f"({_NAME})=({_ENV_VAR})(?:=(.+))?", text)
        if not found:
            raise HarnessError(f"--mcp is NAME=ENV_VAR[=URL], e.g. payments=PAYMENTS_MCP_URL; got {text!r}")
        url = found.group(3)
        if url is None and tools_file is None:
            raise HarnessError(f"--mcp {text}: give the URL of your MCP server (NAME=ENV_VAR=URL), "
                               "or the tools to serve with --mcp-tools FILE")
        if url is not None and tools_file is not None:
            raise HarnessError(f"--mcp {text}: a URL to proxy, or --mcp-tools to serve, not both")
        path = None
        if tools_file is not None:
            from harness.stubs.mcp import load_tools  # checked now: a bad file is found before anything starts

            load_tools(tools_file)
            path = Path(tools_file).resolve()
        return cls(found.group(1), found.group(2), "mcp", _http_url(url, "--mcp") if url else None, path)

    def options(self) -> list[str]:
        """The server's command-line options (``python -m harness.stubs.recording``)."""
        found = ["--service", self.name, "--kind", self.kind]
        if self.upstream:
            found += ["--upstream", self.upstream]
        if self.tools_file:
            found += ["--tools", str(self.tools_file)]
        return found

    @property
    def option(self) -> str:
        """The command-line option that asks for it (a proxied or an MCP service)."""
        return "--mcp" if self.mcp else "--proxy"


REFUNDS = Stub("refunds", "REFUNDS_URL")


def _http_url(text: str, option: str) -> str:
    url = httpx.URL(text)
    if url.scheme not in ("http", "https") or not url.host:
        raise HarnessError(f"{option}: {text!r} is not an http(s) URL")
    return text.rstrip("/")

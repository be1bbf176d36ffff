"""Where the native servers come from: the binary the settings name
(``RESTATE_SERVER_BIN``, ``TOXIPROXY_SERVER_BIN``), the checkout's pinned install in
``.tools/bin`` (``./scripts/setup``), the per-user one of ``restate-resilience install``,
or the PATH, in that order."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.errors import HarnessError
from harness.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_TOOLS_BIN = PROJECT_ROOT / ".tools" / "bin"

RESTATE_VERSION = "1.7.12"
TOXIPROXY_VERSION = "v2.12.0"

_INSTALL_HINTS = {
    "restate-server": f"restate-resilience install (or npm install @restatedev/restate-server@{RESTATE_VERSION})",
    "toxiproxy-server": "restate-resilience install (or go install "
    f"github.com/Shopify/toxiproxy/v2/cmd/server@{TOXIPROXY_VERSION})",
    # The cluster topology reads partition leadership with it (SQL introspection does not show it).
    "restatectl": f"./scripts/setup (or npm install @restatedev/restatectl@{RESTATE_VERSION})",
}


def install_hint(name: str) -> str:
    """The command that installs ``name`` (``restate-server`` or ``toxiproxy-server``)."""
    return _INSTALL_HINTS[name]


def find_binary(name: str, env_var: str, explicit: str | None = None, tools_home: Path | None = None) -> str:
    """The path of ``name``: ``explicit`` (which came from ``env_var``) if given, else the
    checkout's pinned install, else the per-user one (``tools_home/bin``), else the PATH; a
    HarnessError that says how to install it if there is none."""
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit
        raise HarnessError(f"{env_var}={explicit} is not an executable file")
    pinned = _TOOLS_BIN / name
    if os.access(pinned, os.X_OK):
        return str(pinned)
    if tools_home is not None and os.access(tools_home / "bin" / name, os.X_OK):
        return str(tools_home / "bin" / name)
    if found := shutil.which(name):
        return found
    raise HarnessError(
        f"{name} not found: set {env_var}, put it on PATH, or install it: {_INSTALL_HINTS[name]}"
    )


def restate_server(settings: Settings | None = None) -> str:
    settings = settings or Settings()
    return find_binary("restate-server", "RESTATE_SERVER_BIN", settings.restate_server_bin, settings.tools_home)


def toxiproxy_server(settings: Settings | None = None) -> str:
    settings = settings or Settings()
    return find_binary("toxiproxy-server", "TOXIPROXY_SERVER_BIN", settings.toxiproxy_server_bin, settings.tools_home)


def restatectl(settings: Settings | None = None) -> str:
    """restatectl, pinned to the server's version: how a cluster's partition leadership is
    read (``RESTATECTL_BIN`` once the settings carry it)."""
    settings = settings or Settings()
    return find_binary("restatectl", "RESTATECTL_BIN", getattr(settings, "restatectl_bin", None), settings.tools_home)

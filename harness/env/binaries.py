"""Where the native servers come from: the binary the settings name
(``RESTATE_SERVER_BIN``, ``TOXIPROXY_SERVER_BIN``), the project's pinned install in
``.tools/bin``, or the PATH, in that order."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.errors import HarnessError
from harness.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_TOOLS_BIN = PROJECT_ROOT / ".tools" / "bin"

_INSTALL_HINTS = {
    "restate-server": "npm install @restatedev/restate-server@1.7.12 (or run ./scripts/setup)",
    "toxiproxy-server": "go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0 (or run ./scripts/setup)",
}


def find_binary(name: str, env_var: str, explicit: str | None = None) -> str:
    """The path of ``name``: ``explicit`` (which came from ``env_var``) if given, else the
    pinned install, else the PATH; a HarnessError that says how to install it if there is none."""
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit
        raise HarnessError(f"{env_var}={explicit} is not an executable file")
    pinned = _TOOLS_BIN / name
    if os.access(pinned, os.X_OK):
        return str(pinned)
    if found := shutil.which(name):
        return found
    raise HarnessError(
        f"{name} not found: set {env_var}, put it on PATH, or install it: {_INSTALL_HINTS[name]}"
    )


def restate_server(settings: Settings | None = None) -> str:
    return find_binary("restate-server", "RESTATE_SERVER_BIN", (settings or Settings()).restate_server_bin)


def toxiproxy_server(settings: Settings | None = None) -> str:
    return find_binary("toxiproxy-server", "TOXIPROXY_SERVER_BIN", (settings or Settings()).toxiproxy_server_bin)

"""Versions of everything a run depends on, for the results' metadata."""

from __future__ import annotations

import platform
import re
import subprocess
from importlib import metadata

from harness.env import binaries
from harness.errors import HarnessError
from harness.settings import Settings


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def collect(settings: Settings | None = None) -> dict[str, str]:
    """The versions of the binaries ``settings`` name (default: the pinned ones), SDKs and Python."""
    found: dict[str, str] = {"python": platform.python_version()}
    try:
        text = _output([binaries.restate_server(settings), "--version"])
        found["restate-server"] = text.split()[-1] if text else "?"
    except HarnessError:
        found["restate-server"] = "missing"
    try:
        # A `go install` build reports "git" on /version; the module version is in the binary.
        text = _output(["go", "version", "-m", binaries.toxiproxy_server(settings)])
        match = re.search(r"mod\s+github.com/Shopify/toxiproxy/v2\s+(\S+)", text)
        found["toxiproxy"] = match.group(1) if match else "?"
    except HarnessError:
        found["toxiproxy"] = "missing"
    for package in ("restate-sdk", "openai", "toxiproxy-python"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found

"""``restate-resilience install``: the pinned restate-server, restatectl and Toxiproxy into a
per-user cache, as ``playwright install`` fetches browsers, so a user who ran only ``pip
install`` needs no checkout. restate-server and restatectl come from their npm packages
(which carry static binaries); Toxiproxy is built with ``go install``. npm and go must be
on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from harness.env.binaries import RESTATE_VERSION, TOXIPROXY_VERSION
from harness.errors import HarnessError


def install(home: Path, say: Callable[[str], None] = print) -> dict[str, Path]:
    """Install restate-server, restatectl and Toxiproxy into ``home/bin`` (idempotent: a
    binary already at its version is kept); returns their paths."""
    bin_dir = home / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    return {
        "restate-server": _restate(home, bin_dir, say, "restate-server"),
        "restatectl": _restate(home, bin_dir, say, "restatectl"),  # the cluster topology reads leaders with it
        "toxiproxy-server": _toxiproxy(home, bin_dir, say),
    }


def _restate(home: Path, bin_dir: Path, say: Callable[[str], None], name: str) -> Path:
    """``restate-server`` or ``restatectl`` from npm, at the pinned Restate version."""
    target = bin_dir / name
    if _reports(target, RESTATE_VERSION):
        say(f"{name} {RESTATE_VERSION}: already installed at {target}")
        return target
    npm = _tool("npm", "install Node.js with npm (Debian: apt-get install npm)")
    say(f"{name} {RESTATE_VERSION}: npm install @restatedev/{name} into {home / 'npm'}")
    _run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(home / "npm"),
          f"@restatedev/{name}@{RESTATE_VERSION}"])
    found = sorted((home / "npm" / "node_modules" / "@restatedev").glob(f"{name}-*/bin/{name}"))
    if not found:
        raise HarnessError(f"the npm package @restatedev/{name} has no binary for this platform")
    _link(target, found[0])
    return target


def _toxiproxy(home: Path, bin_dir: Path, say: Callable[[str], None]) -> Path:
    target = bin_dir / "toxiproxy-server"
    stamp = home / "go-bin" / ".version"
    if target.exists() and stamp.is_file() and stamp.read_text().strip() == TOXIPROXY_VERSION:
        say(f"Toxiproxy {TOXIPROXY_VERSION}: already installed at {target}")
        return target
    go = _tool("go", "install Go (Debian: apt-get install golang-go)")
    say(f"Toxiproxy {TOXIPROXY_VERSION}: go install into {home / 'go-bin'}")
    _run([go, "install", f"github.com/Shopify/toxiproxy/v2/cmd/server@{TOXIPROXY_VERSION}"],
         env={"GOBIN": str(home / "go-bin"), "GOFLAGS": "-mod=mod"})
    stamp.write_text(TOXIPROXY_VERSION + "\n")
    _link(target, home / "go-bin" / "server")  # go install names the binary after its folder
    return target


def _reports(binary: Path, version: str) -> bool:
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return version in done.stdout


def _tool(name: str, how: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise HarnessError(f"{name} not found on PATH: {how}, then run `restate-resilience install` again")
    return found


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise HarnessError(f"{' '.join(argv[:2])} failed (exit {done.returncode}): {last[0]}")


def _link(link: Path, to: Path) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(to)

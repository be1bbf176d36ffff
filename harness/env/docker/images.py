"""Images built here from the pinned binaries, with no registry: the restate-server image
is a root filesystem holding the npm package's static binary and the CA certificates (it
panics at start without them), loaded with ``docker import``. Building is skipped when the
tag exists, so the image is a build cache that may stay."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from harness.env import binaries
from harness.env.docker import engine as docker_engine
from harness.errors import HarnessError
from harness.settings import Settings

RESTATE_REPOSITORY = "restate-resilience/restate-server"
OFFICIAL_REPOSITORY = "docker.restate.dev/restatedev/restate"
RESTATE_BINARY = "/usr/local/bin/restate-server"
RESTATE_DATA_DIR = "/restate-data"  # inside the container: it lives and dies with it
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def restate_image_tag() -> str:
    return f"{RESTATE_REPOSITORY}:{binaries.RESTATE_VERSION}"


def official_restate_image() -> str:
    """Restate's own image, at the pinned server's version."""
    return f"{OFFICIAL_REPOSITORY}:{binaries.RESTATE_VERSION}"


def restate_image(settings: Settings, engine: Any) -> str:
    """The image the docker backend runs: ``settings.restate_image`` (RESTATE_IMAGE) if
    given, which must be on the engine already; else Restate's official image at the
    pinned version, pulled if missing; else, where no registry answers, ours, built from
    the pinned binary. A restate-server binary of one's own (RESTATE_SERVER_BIN) is what
    runs: ours is built from it."""
    if settings.restate_image:
        return docker_engine.require_image(engine, settings.restate_image, "RESTATE_IMAGE")
    if settings.restate_server_bin is None and docker_engine.pulled(engine, official_restate_image()):
        return official_restate_image()
    return build_restate_image(settings, engine)


def build_restate_image(settings: Settings, engine: Any) -> str:
    """``restate-resilience/restate-server:<RESTATE_VERSION>`` from the binary the settings
    resolve to (the pinned one by default). Idempotent; concurrent builders wait for each other."""
    tag = restate_image_tag()
    if docker_engine.has_image(engine, tag):
        return tag
    binary = Path(binaries.restate_server(settings)).resolve()
    with open(binary, "rb") as lock:  # locking the binary itself leaves no lock file behind
        fcntl.flock(lock, fcntl.LOCK_EX)
        if docker_engine.has_image(engine, tag):  # another builder finished meanwhile
            return tag
        with tempfile.TemporaryDirectory(prefix="rrh-image-") as tmp:
            rootfs = Path(tmp) / "rootfs.tar"
            _write_rootfs(rootfs, {RESTATE_BINARY: (binary, 0o755), str(CA_BUNDLE): (_ca_bundle(), 0o644)},
                          dirs=("/tmp", RESTATE_DATA_DIR))
            import_rootfs(engine, rootfs, tag, entrypoint=[RESTATE_BINARY],
                          cmd=["--base-dir", RESTATE_DATA_DIR, "--no-logo", "--listen-mode", "tcp"])
    return tag


def preflight(settings: Settings, agent_images: tuple[str, ...] = ()) -> None:
    """Before a run with containers: an engine answers, the restate-server image is there
    (ours built if missing) when the backend is docker, and every agent image is there.
    Each failure is one HarnessError line."""
    if settings.backend != "docker" and not agent_images:
        return
    engine = docker_engine.client()
    try:
        if settings.backend == "docker":
            restate_image(settings, engine)
        for image in agent_images:
            docker_engine.require_image(engine, image, "agent")
    finally:
        engine.close()


def build_node_app_image(engine: Any, tag: str, app_dir: Path, main: str, *,
                         exclude: tuple[str, ...] = ("node_modules/typescript", "node_modules/@types", "src")) -> str:
    """An image of a Node.js app with no registry: the host's ``node`` and the shared
    libraries it links (as ``ldd`` lists them), and ``app_dir`` (built, with its
    ``node_modules``) in ``/app``; it runs ``node /app/<main>``. Idempotent. How the tests
    make an agent image; any agent in a language whose runtime is one binary works alike."""
    if docker_engine.has_image(engine, tag):
        return tag
    node = Path(subprocess.run(["sh", "-c", "command -v node"], capture_output=True, text=True).stdout.strip()
                or "/usr/bin/node").resolve()
    files: dict[str, tuple[Path, int]] = {"/usr/bin/node": (node, 0o755), **_shared_libraries(node)}
    app_dir = app_dir.resolve()
    for path in sorted(app_dir.rglob("*")):
        relative = path.relative_to(app_dir).as_posix()
        if path.is_file() and not any(relative == e or relative.startswith(e + "/") for e in exclude):
            files[f"/app/{relative}"] = (path, 0o644)
    with tempfile.TemporaryDirectory(prefix="rrh-image-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        _write_rootfs(rootfs, files, dirs=("/tmp",))
        import_rootfs(engine, rootfs, tag, entrypoint=["/usr/bin/node", f"/app/{main}"], env={"NODE_ENV": "production"})
    return tag


def _shared_libraries(binary: Path) -> dict[str, tuple[Path, int]]:
    """The libraries ``binary`` loads, at the paths it looks for them (``ldd``)."""
    listed = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    found: dict[str, tuple[Path, int]] = {}
    for line in listed.splitlines():
        match = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if match:
            found[match.group(1)] = (Path(match.group(1)).resolve(), 0o755)
    return found


def import_rootfs(engine: Any, rootfs: Path, tag: str, *, entrypoint: list[str], cmd: list[str] | None = None,
                  env: dict[str, str] | None = None) -> None:
    """``docker import`` of a root filesystem tar as ``tag``, with its entrypoint and CMD."""
    repository, _, version = tag.rpartition(":")
    changes = [f"ENTRYPOINT {json.dumps(entrypoint)}", "WORKDIR /"]
    if cmd is not None:
        changes.append(f"CMD {json.dumps(cmd)}")
    changes += [f"ENV {key}={value}" for key, value in (env or {}).items()]
    try:
        engine.api.import_image(src=str(rootfs), repository=repository, tag=version, changes=changes)
    except Exception as exc:
        raise HarnessError(f"building image {tag} failed: {str(exc).splitlines()[0]}") from None
    if not docker_engine.has_image(engine, tag):
        raise HarnessError(f"building image {tag} failed: the engine does not list it after docker import")


def _write_rootfs(path: Path, files: dict[str, tuple[Path, int]], dirs: tuple[str, ...] = ()) -> None:
    """A tar of a root filesystem: ``files`` maps a path inside to (a host file, its mode)."""
    with tarfile.open(path, "w") as tar:
        made: set[str] = set()

        def directory(name: str, mode: int = 0o755) -> None:
            parts = name.strip("/").split("/")
            for i in range(1, len(parts) + 1):
                sub = "/".join(parts[:i])
                if sub and sub not in made:
                    made.add(sub)
                    info = tarfile.TarInfo(sub)
                    info.type, info.mode = tarfile.DIRTYPE, (mode if i == len(parts) else 0o755)
                    tar.addfile(info)

        for name in dirs:
            directory(name, 0o1777 if name == "/tmp" else 0o755)
        for inside, (source, mode) in files.items():
            directory(os.path.dirname(inside))
            info = tar.gettarinfo(str(source), arcname=inside.lstrip("/"))
            info.mode, info.uid, info.gid, info.uname, info.gname = mode, 0, 0, "root", "root"
            with open(source, "rb") as fh:
                tar.addfile(info, fh)


def _ca_bundle() -> Path:
    """The system's CA bundle, else certifi's (httpx brings it)."""
    if CA_BUNDLE.is_file():
        return CA_BUNDLE
    try:
        import certifi  # noqa: PLC0415

        return Path(certifi.where())
    except ImportError:
        raise HarnessError(f"no CA certificates to put in the image: {CA_BUNDLE} is missing") from None


__all__ = ["RESTATE_DATA_DIR", "build_node_app_image", "build_restate_image", "preflight", "import_rootfs", "restate_image", "restate_image_tag"]

"""restate-server's boot, native against in a container (the docker backend), one run each.

    .venv/bin/python benchmarks/docker_boot.py

Prints the seconds from start until SQL introspection answers for: the native process; the
container, first start (create it through testcontainers, which on the vfs storage driver
copies the image's root filesystem, then start); and the same container started again
after a SIGKILL (the restart a kill-restate fault pays). The image is built first if it is
missing (that build is timed apart and not counted). Needs a Docker engine
(``scripts/docker-engine``). Figures, not assertions.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from harness.env.cleanup import Cleanup
from harness.env.docker import engine, images
from harness.env.docker.restate import RestateContainer
from harness.env.restate.server import RestateServer
from harness.errors import HarnessError
from harness.settings import Settings


def main() -> int:
    settings = Settings(backend="docker")
    try:
        client = engine.client()
    except HarnessError as exc:
        print(f"error: {exc}")
        return 2
    started = time.perf_counter()
    built = images.restate_image(settings, client)
    client.close()
    print(f"image {built}: ready in {time.perf_counter() - started:.2f}s (built when missing)")
    with Cleanup() as cleanup, tempfile.TemporaryDirectory(prefix="rrh-bench-") as tmp:
        native = RestateServer(Path(tmp) / "native", cleanup=cleanup, settings=Settings())
        started = time.perf_counter()
        try:
            native.start()
            native_s = time.perf_counter() - started
        finally:
            native.stop()
        container = RestateContainer(Path(tmp) / "docker", cleanup=cleanup, settings=settings)
        try:
            started = time.perf_counter()
            container.start()
            docker_s = time.perf_counter() - started
            container.kill()
            started = time.perf_counter()
            container.restart()
            restart_s = time.perf_counter() - started
        finally:
            container.stop()
    print(f"native restate-server:        {native_s:6.2f}s")
    print(f"container, first start:       {docker_s:6.2f}s  ({docker_s / native_s:.1f}x native)")
    print(f"container, start after kill:  {restart_s:6.2f}s  ({restart_s / native_s:.1f}x native)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

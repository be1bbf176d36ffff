"""The Docker engine, reached through the Docker SDK that testcontainers brings. Every
failure to reach it is one ``HarnessError`` line that says how to get one."""

from __future__ import annotations

from typing import Any

from harness.errors import HarnessError

ENGINE_HINT = "start one with scripts/docker-engine (or set DOCKER_HOST)"
INSTALL_HINT = "pip install 'restate-resilience-harness[docker]'"


def _sdk() -> Any:
    try:
        import docker  # noqa: PLC0415 - the backend's optional dependency
        import testcontainers.core.config  # noqa: F401, PLC0415
    except ImportError:
        raise HarnessError(f"the docker backend needs testcontainers and the Docker SDK: {INSTALL_HINT}") from None
    return docker


def client() -> Any:
    """A Docker SDK client to an engine that answers (``DOCKER_HOST``, else the default
    socket), or a HarnessError line."""
    docker = _sdk()
    try:
        found = docker.from_env(timeout=60)
        found.ping()
    except Exception as exc:  # DockerException, connection errors: all mean "no engine here"
        raise HarnessError(f"no Docker engine answers ({_first_line(exc)}): {ENGINE_HINT}") from None
    return found


def testcontainers_ready() -> None:
    """Testcontainers without its Ryuk reaper (its image comes from a registry, and our own
    reaper removes our containers by label); after this, ``DockerContainer`` may be used."""
    _sdk()
    from testcontainers.core.config import testcontainers_config  # noqa: PLC0415

    testcontainers_config.ryuk_disabled = True


def has_image(engine: Any, image: str) -> bool:
    import docker.errors  # noqa: PLC0415

    try:
        engine.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:  # an invalid reference
        raise HarnessError(f"image {image!r}: {_first_line(exc)}") from None
    return True


def require_image(engine: Any, image: str, what: str) -> str:
    """``image`` if the engine has it; no registry is asked (pull or load it first)."""
    if not has_image(engine, image):
        raise HarnessError(f"{what} image {image!r} is not on this Docker engine: docker pull or docker load it first")
    return image


def pulled(engine: Any, image: str) -> bool:
    """Whether the engine has ``image``, pulling it once if it has not; False where no
    registry answers (the reason is not an error: the caller has a fallback)."""
    import docker.errors  # noqa: PLC0415

    if has_image(engine, image):
        return True
    try:
        engine.images.pull(image)
    except docker.errors.DockerException:
        return False
    return has_image(engine, image)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


__all__ = ["client", "has_image", "pulled", "require_image", "testcontainers_ready"]

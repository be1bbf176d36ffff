"""The docker backend's pure parts: no engine needed."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from harness.env.docker import engine, images
from harness.env.docker.container import _timestamp_ns
from harness.env.docker.images import _write_rootfs
from harness.errors import HarnessError
from harness.settings import Settings
from harness.validate.agent import parse_agent_under_test


def test_docker_log_timestamps_parse_to_nanoseconds() -> None:
    assert _timestamp_ns(b"1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert _timestamp_ns(b"1970-01-01T00:00:01.000000002Z") == 1_000_000_002
    assert _timestamp_ns(b"1970-01-01T00:00:02Z") == 2_000_000_000
    assert _timestamp_ns(b"not-a-time") is None


def test_rootfs_tar_holds_files_and_dirs(tmp_path: Path) -> None:
    binary = tmp_path / "server"
    binary.write_bytes(b"\x7fELF")
    rootfs = tmp_path / "rootfs.tar"
    _write_rootfs(rootfs, {"/usr/local/bin/server": (binary, 0o755)}, dirs=("/tmp", "/data"))
    with tarfile.open(rootfs) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["usr/local/bin/server"].mode == 0o755 and members["usr/local/bin/server"].uid == 0
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    assert {"usr", "usr/local", "usr/local/bin", "data"} <= set(members)


def test_no_engine_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(HarnessError) as raised:
        engine.client()
    assert "no Docker engine answers" in str(raised.value) and "\n" not in str(raised.value)


def test_image_target() -> None:
    target = parse_agent_under_test([], [], images=["registry.example/agent:1"], port=9080)
    (agent,) = target.agents
    assert (agent.image, agent.container_port, agent.command) == ("registry.example/agent:1", 9080, ())
    assert target.managed and target.images == ("registry.example/agent:1",)
    with pytest.raises(HarnessError, match="--port"):
        parse_agent_under_test([], [], images=["a:1", "b:1"], port=9080)
    with pytest.raises(HarnessError, match="--image"):
        parse_agent_under_test([], [])


class Engine:
    """A Docker engine's image store, as far as ``restate_image`` asks it."""

    def __init__(self, has: set[str], registry: set[str]) -> None:
        self.has, self.registry, self.pulls = set(has), registry, []
        self.images = self

    def get(self, image: str) -> str:
        import docker.errors

        if image not in self.has:
            raise docker.errors.ImageNotFound(image)
        return image

    def pull(self, image: str) -> str:
        import docker.errors

        self.pulls.append(image)
        if image not in self.registry:
            raise docker.errors.APIError(f"lookup of {image}: no such host")
        self.has.add(image)
        return image


@pytest.mark.parametrize(
    ("has", "registry", "settings", "expected", "pulls"),
    [
        ({"official"}, set(), Settings(), "official", []),
        (set(), {"official"}, Settings(), "official", ["official"]),
        (set(), set(), Settings(), "ours", ["official"]),  # no registry answers: built here
        (set(), {"official"}, Settings(restate_server_bin="/opt/my/restate-server"), "ours", []),
    ],
    ids=["on the engine", "pulled", "no registry", "a binary of one's own"],
)
def test_the_default_restate_image_is_the_official_one_where_it_can_be_had(
    monkeypatch: pytest.MonkeyPatch, has: set[str], registry: set[str], settings: Settings, expected: str,
    pulls: list[str],
) -> None:
    pytest.importorskip("docker")
    official = images.official_restate_image()
    alias = {"official": official}
    engine = Engine({alias.get(i, i) for i in has}, {alias.get(i, i) for i in registry})
    monkeypatch.setattr(images, "build_restate_image", lambda settings, engine: "ours")
    chosen = images.restate_image(settings, engine)
    assert chosen == alias.get(expected, expected)
    assert engine.pulls == [alias.get(i, i) for i in pulls]


def test_a_named_restate_image_is_never_pulled() -> None:
    pytest.importorskip("docker")
    engine = Engine(set(), {"mine:1"})
    with pytest.raises(HarnessError, match="RESTATE_IMAGE image 'mine:1' is not on this Docker engine"):
        images.restate_image(Settings(restate_image="mine:1"), engine)
    assert engine.pulls == []

"""The docker backend's pure parts: no engine needed."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from harness.env.docker import engine
from harness.env.docker.container import _timestamp_ns
from harness.env.docker.images import _write_rootfs
from harness.errors import HarnessError
from harness.validate.target import parse_target


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
    target = parse_target([], [], images=["registry.example/agent:1"], port=9080)
    (agent,) = target.agents
    assert (agent.image, agent.container_port, agent.command) == ("registry.example/agent:1", 9080, ())
    assert target.managed and target.images == ("registry.example/agent:1",)
    with pytest.raises(HarnessError, match="--port"):
        parse_target([], [], images=["a:1", "b:1"], port=9080)
    with pytest.raises(HarnessError, match="--image"):
        parse_target([], [])

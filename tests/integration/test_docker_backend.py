"""The docker backend on a real Docker engine: restate-server in a container through
testcontainers, faults through the container API, nothing left behind (by the test's
teardown, by ``Cleanup.close()``, or by the reaper when the runner is SIGKILLed).

The engine comes from ``scripts/docker-engine`` (it installs docker.io and starts dockerd
where it can); a machine with none and no way to start one skips these tests, saying why.
A dockerd these tests started is stopped when the whole test run ends (``tests/conftest.py``,
under ``pytest -n``, another worker may still be using it when this one is done).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.env.binaries import PROJECT_ROOT
from harness.env.cleanup import Cleanup
from harness.env.reaper import CONTAINER_LABEL
from harness.runner.scenario import run_scenario
from harness.settings import Settings
from scenarios.local_router import BASELINE, KILL_RESTATE_SERVER

from ..conftest import start_docker_engine
from .conftest import Leftovers, wait_until_gone

DOCKER = Settings(backend="docker")


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    """A Docker engine that answers (started by scripts/docker-engine if need be), as a
    Docker SDK client; skips with the script's reason where there can be none."""
    try:
        import docker
    except ImportError:
        pytest.skip("the docker backend's Python packages are missing: pip install -e '.[test]'")
    try:
        found = start_docker_engine()
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no Docker engine: scripts/docker-engine could not run: {exc}")
    if found.returncode != 0:
        reason = (found.stderr.strip().splitlines() or ["(no reason given)"])[-1]
        pytest.skip(f"no Docker engine: {reason}")
    client = docker.DockerClient(base_url=found.stdout.strip().splitlines()[-1], timeout=60)
    yield client
    client.close()


def labelled(engine: Any, owner_id: str) -> list[str]:
    """Containers (any state) carrying this owner's label. Sparse: a full listing inspects each
    container after listing it, and one the reaper removed in between fails it with a 404."""
    found = engine.containers.list(all=True, sparse=True, filters={"label": f"{CONTAINER_LABEL}={owner_id}"})
    return [",".join(c.attrs.get("Names") or [c.id]) for c in found]


def test_baseline_on_restate_in_a_container(
    tmp_path: Path, no_leftovers: Leftovers, cleanup: Cleanup, docker_engine: Any
) -> None:
    result = run_scenario(BASELINE, tmp_path, settings=DOCKER, cleanup=cleanup)
    assert result.verdict == "pass", result.explain()
    assert result.invocations["completed"] == result.invocations["sent"] >= 1
    log = (tmp_path / BASELINE.folder / "logs" / "restate-server.log").read_text()
    assert "container of image restate-resilience/restate-server:" in log
    assert "Starting Restate Server" in log  # the container's own output, followed into the log
    assert labelled(docker_engine, cleanup.owner_id) == []


def test_kill_restate_container_mid_invocation(
    tmp_path: Path, no_leftovers: Leftovers, cleanup: Cleanup, docker_engine: Any
) -> None:
    """SIGKILL of the container while the specialist's answer is held; the same container is
    started again on its data, and the invocation completes with nothing done twice."""
    result = run_scenario(KILL_RESTATE_SERVER, tmp_path, settings=DOCKER, cleanup=cleanup)
    assert result.verdict == "pass", result.explain()
    assert result.invocations["completed"] == result.invocations["sent"] >= 1
    assert result.llm_calls["duplicate"] == 0
    assert [f.kind for f in result.faults] == ["kill"], result.faults
    log = (tmp_path / KILL_RESTATE_SERVER.folder / "logs" / "restate-server.log").read_text()
    assert log.count("--- harness: starting restate-server") == 2  # one container, started twice
    assert labelled(docker_engine, cleanup.owner_id) == []


# A runner that starts restate-server in a container, reports, then waits to be killed.
RUNNER = r"""
import json, sys, time
from pathlib import Path
from harness.env.cleanup import Cleanup
from harness.env.docker.restate import RestateContainer
from harness.settings import Settings

cleanup = Cleanup()
server = RestateContainer(Path(sys.argv[1]), cleanup=cleanup, settings=Settings(backend="docker")).start()
print("READY " + json.dumps({"owner_id": cleanup.owner_id, "reaper": cleanup.reaper_pid,
                             "container": server.container.container_id}), flush=True)
while True:
    time.sleep(1)
"""


def test_sigkilled_runner_leaves_no_container(tmp_path: Path, no_leftovers: Leftovers, docker_engine: Any) -> None:
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(tmp_path / "logs")], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert runner.stdout is not None
        line = runner.stdout.readline()  # blocks until READY or the runner's end
        if not line.startswith("READY "):
            runner.kill()
            pytest.fail(f"the runner did not start: {line!r} {runner.stderr.read()[-2000:] if runner.stderr else ''}")
        info = json.loads(line.removeprefix("READY "))
        assert docker_engine.containers.get(info["container"]).status == "running"
        assert labelled(docker_engine, info["owner_id"]) != []
        os.kill(runner.pid, signal.SIGKILL)  # no Python code runs: no finally, no atexit
        assert runner.wait(timeout=5) == -signal.SIGKILL
        deadline = time.monotonic() + 30
        while (left := labelled(docker_engine, info["owner_id"])) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == [], f"containers survived the runner's SIGKILL: {left}"
        assert wait_until_gone({info["reaper"]}, timeout_s=10) == set(), "the reaper did not exit"
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for stream in (runner.stdout, runner.stderr):
            if stream is not None:
                stream.close()


AGENT_IMAGE = "restate-resilience/test-product-agent:1"


@pytest.fixture(scope="session")
def agent_image(docker_engine: Any) -> str:
    """The TypeScript ProductAgent as an image, built here with no registry: the host's node
    binary, the libraries it links and the built agent (``build_node_app_image``)."""
    from harness.env.docker.images import build_node_app_image

    if not (PROJECT_ROOT / "agents" / "product_agent_ts" / "dist" / "index.js").is_file():
        pytest.skip("the TypeScript agent is not built: ./scripts/setup")
    return build_node_app_image(docker_engine, AGENT_IMAGE, PROJECT_ROOT / "agents" / "product_agent_ts", "dist/index.js")


def test_validate_an_agent_image(tmp_path: Path, no_leftovers: Leftovers, docker_engine: Any, agent_image: str) -> None:
    """``validate --image``: the agent runs as a container on the port handed over in PORT,
    its crash points are SIGKILLs of the container, and the reference agent is green."""
    done = subprocess.run(
        [sys.executable, "-m", "harness", "validate", "--image", agent_image, "--workers", "1", "--out", str(tmp_path)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    results = json.loads((tmp_path / "latest" / "results.json").read_text())
    validation = results["validation"]
    assert validation["entry"] == "ProductAgent/run"
    verdicts = {cls: row["verdict"] for cls, row in validation["classes"].items()}
    assert "fail" not in verdicts.values() and verdicts["duplicate_llm_call"] == "pass", verdicts  # others: no stub, no child
    faults = [f for r in results["scenarios"] for f in r.get("faults", [])]
    assert any(f["kind"] == "kill" and f.get("target") == "agent" for f in faults), faults
    assert [c.name for c in docker_engine.containers.list(all=True, filters={"ancestor": agent_image})] == []


def test_unknown_image_is_one_line(tmp_path: Path, no_leftovers: Leftovers, docker_engine: Any) -> None:
    for argv, env in (
        (["--image", "restate-resilience/no-such-agent:0"], {}),
        (["--cmd", "true {port}", "--backend", "docker"], {"RESTATE_IMAGE": "restate-resilience/no-such-image:0"}),
    ):
        done = subprocess.run([sys.executable, "-m", "harness", "validate", *argv, "--out", str(tmp_path)],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, **env})
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout
        assert done.stderr.strip().count("\n") == 0 and "is not on this Docker engine" in done.stderr, done.stderr

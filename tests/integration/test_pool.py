"""Reusing an environment between scenarios: it is handed on only when clean, every
scenario still gets its own logs, and anything left behind makes the next one fresh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.env.cleanup import Cleanup
from harness.runner.pool import EnvironmentPool, Shape
from harness.settings import Settings
from harness.workload import Requests
from scenarios.agents import LOCAL_ROUTER

SHAPE = Shape((LOCAL_ROUTER,), None, False)


@pytest.fixture
def pool(tmp_path: Path, no_leftovers) -> Iterator[EnvironmentPool]:
    with Cleanup() as cleanup, EnvironmentPool(tmp_path / "environments", Settings(), cleanup) as pool:
        yield pool


def _answer(env) -> None:  # type: ignore[no-untyped-def]
    sent = Requests("AgentRouter", "answer", "Where is my refund?").send(env.ingress)
    status, _ = env.ingress.attach(sent[0].invocation_id, timeout_s=20)
    assert status == 200


def test_a_clean_environment_is_reused_and_starts_empty(pool: EnvironmentPool, tmp_path: Path) -> None:
    with pool.lease(SHAPE, tmp_path / "first") as first:
        env = first.environment
        _answer(env)
        assert env.admin.count("sys_invocation") >= 1 and len(env.llm.calls) >= 1
        router = env.processes["router"].pid
    with pool.lease(SHAPE, tmp_path / "second") as second:
        assert second.reused and second.environment is env
        assert env.processes["router"].pid == router
        # Nothing of the first scenario is visible to the second.
        assert env.admin.count("sys_invocation") == 0
        assert len(env.llm.calls) == 0 and env.llm.rules == []
        _answer(env)
    # Each scenario has its own slice of every log.
    first_log = (tmp_path / "first" / "logs" / "router.log").read_text()
    second_log = (tmp_path / "second" / "logs" / "router.log").read_text()
    assert "starting router" in first_log and "starting router" not in second_log


@pytest.mark.parametrize("leave", ["a cut link", "a dead agent", "an unfinished invocation"])
def test_anything_left_behind_makes_the_next_environment_fresh(pool: EnvironmentPool, tmp_path: Path, leave: str) -> None:
    with pool.lease(SHAPE, tmp_path / "first") as first:
        env = first.environment
        if leave == "a cut link":
            env.link("restate->router").cut()
        elif leave == "a dead agent":
            env.processes["router"].kill()
        else:
            env.llm.on().hold().reply("never released")
            Requests("AgentRouter", "answer", "Where is my refund?").send(env.ingress)
            env.llm.wait_for_call(held=True, timeout=20)
    with pool.lease(SHAPE, tmp_path / "second") as second:
        assert not second.reused and second.environment is not env
        expected = {"a cut link": "link restate->router is cut", "a dead agent": "router is not running",
                    "an unfinished invocation": "invocation"}[leave]
        assert any(expected in why for why in second.fresh_because), second.fresh_because

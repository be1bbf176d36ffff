"""Histories recorded from real runs (tests/fixtures/histories, made by
scripts/record_history_fixtures), loaded for unit tests of the checker and the judge.

``index.json`` says, per fixture, which catalogue scenario's checks judged it and what the
run reported (``recorded``: verdict, counts, findings). Every loader returns a fresh
``History``, so a test may edit what it gets; crafted variants edit the JSON first
(``variant``), so they stay histories ``History.from_json`` accepts.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from harness.checker.check import Check, CheckResult
from harness.checker.classify import ClassifiedCall, classify_history
from harness.checker.judge import RunInfo
from harness.history import History
from harness.runner.scenario import Scenario

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "histories"

# The fixtures, by what they recorded.
KILL_ROUTER = "kill-router"  # kill-router-during-specialist-call, local router: pass
STREAM_CUT = "llm-stream-cut"  # local router: pass
SERVER_RESTART = "kill-restate-server"  # kill-restate-server-mid-invocation: pass
LLM_DOWN = "llm-down"  # llm-down-beyond-max-attempts, local router: expected failure
REMOTE_BASELINE = "remote-baseline"  # remote router -> BillingAgent (one refund): pass
KILL_REMOTE = "kill-remote-agent"  # kill-remote-agent-mid-call: pass
MUTANT_ROUTING = "mutant-unjournaled-routing"  # kill-router-during-specialist-call: duplicate LLM call
MUTANT_REFUND = "mutant-refund-outside-run"  # kill-remote-agent-mid-call: duplicate refund
SOAK = "soak-local"  # soak --router local --n 100 --faults 4 --seed 11: pass, aborted attempts


@cache
def index() -> dict[str, Any]:
    return json.loads((FIXTURES / "index.json").read_text())


def names() -> list[str]:
    return sorted(index())


@cache
def _raw(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def raw(name: str) -> dict[str, Any]:
    """The fixture's JSON, a copy to edit."""
    return copy.deepcopy(_raw(name))


def load(name: str) -> History:
    return History.from_json(raw(name))


def variant(name: str, edit: Callable[[dict[str, Any]], object]) -> History:
    """The fixture with ``edit`` applied to its JSON (in place), loaded."""
    data = raw(name)
    edit(data)
    return History.from_json(data)


def recorded(name: str) -> dict[str, Any]:
    """What the run reported: verdict, invocations, llm_calls, side_effects, findings, errors."""
    return copy.deepcopy(index()[name]["recorded"])


def scenario(name: str) -> Scenario:
    """The catalogue scenario whose checks judged the fixture (a mutant's is the reference's)."""
    from scenarios import CATALOGUE
    from scenarios.random_schedules import random_faults

    spec = index()[name]["catalogue"]
    if "soak" in spec:
        soak = spec["soak"]
        return random_faults(soak["router"], n=soak["n"], seed=soak["seed"], faults=soak["faults"])
    return next(s for s in CATALOGUE if s.name == spec["name"] and s.agent_label == spec["agent"])


def info(name: str, *checks: Check, expect_failure: bool | None = None) -> RunInfo:
    """How the run was judged: its scenario's checks (or ``checks``)."""
    s = scenario(name)
    return RunInfo(
        index()[name]["scenario"], index()[name]["agent"], s.description, s.tags, checks or s.checks,
        s.expect_failure if expect_failure is None else expect_failure,
    )


def evaluate(check: Check, history: History) -> CheckResult:
    return check.evaluate(history, classify_history(history))


def classified(history: History) -> dict[int, ClassifiedCall]:
    """LLM calls by ledger id."""
    return {c.call.id: c for c in classify_history(history) if c.kind == "llm"}


def entry_of(data: dict[str, Any], invocation_id: str, index: int) -> dict[str, Any]:
    return next(e for e in data["journal"] if e["invocation_id"] == invocation_id and e["index"] == index)


def root(data: dict[str, Any]) -> str:
    return data["requests"][0]["invocation_id"]

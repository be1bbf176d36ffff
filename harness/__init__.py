"""Resilience testing and fault injection for multi-agent LLM systems on Restate.

A scenario composes an environment (restate-server, Toxiproxy, the fake LLM, agents), a
workload, a fault schedule and checks; ``run_scenario`` plays it and judges the result.
``validate_agent(parse_agent_under_test(...), out)`` validates an agent nobody scripted.

The public names are imported on first use: every helper process the harness starts
(``python -m harness.serve``, the fake LLM, the stubs, the reaper) imports this package
first, and should pay only for what it uses.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the module that defines it
_WHERE: dict[str, str] = {
    **dict.fromkeys(('AllCompleted', 'CallTree', 'FailedTerminally', 'NoDuplicateLLMCalls', 'NoDuplicateSideEffects', 'NoJournalMismatch', 'OneInvocationPerRequest', 'RetriesPlausible', 'SlowedDown', 'StepsOnce', 'Wasted', 'WastedExplainedByFaults'), "harness.checker.checks"),
    **dict.fromkeys(('AgentSpec', 'Environment', 'python_app'), "harness.env.environment"),
    **dict.fromkeys(('FaultRecord',), "harness.history"),
    **dict.fromkeys(('Bandwidth', 'Kill', 'LLMHang', 'LLMMalformed', 'LLMMatch', 'LLMRateLimited', 'LLMServerError', 'LLMSlowFirstToken', 'LLMStreamCut', 'LLMWrongTool', 'Latency', 'LimitData', 'Partition', 'OFFERS_TOOLS', 'Pause', 'ResetPeer', 'Restart', 'Slicer', 'Terminate', 'Timeout'), "harness.nemesis.faults"),
    **dict.fromkeys(('After', 'LLMCallHeld', 'RetryObserved', 'StepCompleted'), "harness.nemesis.triggers"),
    **dict.fromkeys(('ScenarioResult',), "harness.results.schema"),
    **dict.fromkeys(('LiveRun',), "harness.runner.live"),
    **dict.fromkeys(('Scenario', 'run_scenario', 'standard_checks'), "harness.runner.scenario"),
    **dict.fromkeys(('HarnessError',), "harness.errors"),
    **dict.fromkeys(('FakeLLM', 'tool_call'), "harness.fake_llm"),
    **dict.fromkeys(('Requests',), "harness.workload"),
    **dict.fromkeys(('Validation', 'validate_agent'), "harness.validate.run"),
    **dict.fromkeys(('AgentUnderTest', 'parse_agent_under_test'), "harness.validate.agent"),
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # once found, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])

"""Resilience testing and fault injection for multi-agent LLM systems on Restate.

A scenario composes an environment (restate-server, Toxiproxy, the fake LLM, agents), a
workload, a fault schedule and checks; ``run_scenario`` plays it and judges the result.
``validate(parse_target(...), out)`` validates an agent nobody scripted.
"""

from harness.checker.checks import (
    AllCompleted,
    CallTree,
    FailedTerminally,
    NoDuplicateLLMCalls,
    NoDuplicateSideEffects,
    NoJournalMismatch,
    OneInvocationPerRequest,
    RetriesPlausible,
    SlowedDown,
    StepsOnce,
    Wasted,
    WastedExplainedByFaults,
)
from harness.env.environment import AgentSpec, Environment, python_app
from harness.history import FaultRecord
from harness.nemesis.faults import (
    ROUTING,
    Bandwidth,
    Kill,
    Latency,
    LimitData,
    LLMHang,
    LLMMalformed,
    LLMMatch,
    LLMRateLimited,
    LLMServerError,
    LLMSlowFirstToken,
    LLMStreamCut,
    LLMUnknownTool,
    Partition,
    Pause,
    ResetPeer,
    Restart,
    Slicer,
    Terminate,
    Timeout,
)
from harness.nemesis.triggers import After, LLMCallHeld, RetryObserved, StepCompleted
from harness.results.schema import ScenarioResult
from harness.runner.live import LiveRun
from harness.runner.scenario import Scenario, run_scenario, standard_checks

from .errors import HarnessError
from .fake_llm import FakeLLM, tool_call
from .workload import Requests

from harness.validate.run import Validation, validate
from harness.validate.target import Target, parse_target

__all__ = [
    "Target", "Validation", "parse_target", "validate",
    "ROUTING", "After", "AgentSpec", "AllCompleted", "Bandwidth", "CallTree", "Environment", "FailedTerminally",
    "FakeLLM", "FaultRecord", "HarnessError", "Kill", "LLMCallHeld", "LLMHang", "LLMMalformed", "LLMMatch",
    "LLMRateLimited", "LLMServerError", "LLMSlowFirstToken", "LLMStreamCut", "LLMUnknownTool", "Latency",
    "LimitData", "LiveRun", "NoDuplicateLLMCalls", "NoDuplicateSideEffects", "NoJournalMismatch", "OneInvocationPerRequest", "Partition",
    "Pause", "Requests", "ResetPeer", "Restart", "RetriesPlausible", "RetryObserved", "StepCompleted",
    "StepsOnce", "Scenario", "ScenarioResult", "Slicer", "SlowedDown", "Terminate", "Timeout", "Wasted",
    "WastedExplainedByFaults", "python_app", "run_scenario", "standard_checks", "tool_call",
]

"""Resilience testing and fault injection for multi-agent LLM systems on Restate.

A scenario composes an environment (restate-server, Toxiproxy, the fake LLM, agents), a
workload, a fault schedule and checks; ``run_scenario`` plays it and judges the result.
"""

from .checks import (
    AllCompleted,
    CallTree,
    FailedTerminally,
    NoDuplicateLLMCalls,
    NoDuplicateSideEffects,
    NoJournalMismatch,
    OneInvocationPerRequest,
    RetriesPlausible,
    RunStepsOnce,
    SlowedDown,
    Wasted,
    WastedExplainedByFaults,
)
from .environment import AgentSpec, Environment, python_app
from .fake_llm import FakeLLM, tool_call
from .live import LiveRun
from .errors import HarnessError
from .faults import (
    ROUTING,
    Bandwidth,
    FaultRecord,
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
from .results import ScenarioResult
from .scenario import Scenario, run_scenario, standard_checks
from .triggers import After, LLMCallHeld, RetryObserved, RunCompleted
from .workload import Requests

__all__ = [
    "ROUTING", "After", "AgentSpec", "AllCompleted", "Bandwidth", "CallTree", "Environment", "FailedTerminally",
    "FakeLLM", "FaultRecord", "HarnessError", "Kill", "LLMCallHeld", "LLMHang", "LLMMalformed", "LLMMatch",
    "LLMRateLimited", "LLMServerError", "LLMSlowFirstToken", "LLMStreamCut", "LLMUnknownTool", "Latency",
    "LimitData", "LiveRun", "NoDuplicateLLMCalls", "NoDuplicateSideEffects", "NoJournalMismatch", "OneInvocationPerRequest", "Partition",
    "Pause", "Requests", "ResetPeer", "Restart", "RetriesPlausible", "RetryObserved", "RunCompleted",
    "RunStepsOnce", "Scenario", "ScenarioResult", "Slicer", "SlowedDown", "Terminate", "Timeout", "Wasted",
    "WastedExplainedByFaults", "python_app", "run_scenario", "standard_checks", "tool_call",
]

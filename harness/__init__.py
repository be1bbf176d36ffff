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
    RetriesPlausible,
    RunStepsOnce,
    SlowedDown,
    Wasted,
    WastedExplainedByFaults,
)
from .environment import AgentSpec, Environment, python_app
from .errors import HarnessError
from .faults import FaultRecord, Kill, Latency, Pause, Terminate
from .results import ScenarioResult
from .scenario import Scenario, run_scenario, standard_checks
from .triggers import After, LLMCallHeld, RetryObserved, RunCompleted
from .workload import Requests

__all__ = [
    "After", "AgentSpec", "AllCompleted", "CallTree", "Environment", "FailedTerminally", "FaultRecord", "HarnessError",
    "Kill", "LLMCallHeld", "Latency", "NoDuplicateLLMCalls", "NoDuplicateSideEffects", "NoJournalMismatch", "Pause", "Requests", "RetriesPlausible",
    "RetryObserved", "RunCompleted", "RunStepsOnce", "Scenario", "SlowedDown", "ScenarioResult", "Terminate", "Wasted",
    "WastedExplainedByFaults", "python_app", "run_scenario", "standard_checks",
]

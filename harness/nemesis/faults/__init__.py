"""The nemesis: faults as small values. Each has a target, a trigger (``when``) that applies
it and a trigger (``until``) that undoes it, and the runner leaves a ``FaultRecord`` of when
it was applied and undone, so the checker and the report read faults like any other event.

What a fault does (``apply``/``undo``) is kept apart from when (its triggers), as in
Jepsen: ``Pause`` is ``Kill`` with SIGSTOP/SIGCONT instead of SIGKILL/restart. Faults only
touch the run through ``harness.context.RunContext``.

One module per target: processes, links, cluster nodes, partitions between nodes, the LLM, tools.
"""

from __future__ import annotations

from harness.nemesis.faults.base import Fault, describe
from harness.nemesis.faults.processes import Kill, Terminate, Pause, Restart
from harness.nemesis.faults.links import Latency, ResetPeer, Timeout, Bandwidth, Slicer, LimitData, Partition
from harness.nemesis.faults.nodes import ClusterNodes, cluster_of, first_in_flight, resolve_node, KillNode, RestartNode, CutInboundNode, NODE_ROLES, NODE_FAULTS
from harness.nemesis.faults.llm import LLMMatch, LLMRateLimited, LLMServerError, LLMHang, LLMSlowFirstToken, LLMMalformed, LLMStreamCut, LLMEmpty, LLMTruncated, LLMRefusal, LLMBadToolArgs, LLMSchemaViolation, LLMWrongTool, LLMStreamEarlyEnd, LLMContextLength, LLMAuth, OFFERS_TOOLS, VALUE_FAULTS
from harness.nemesis.faults.tools import ToolError, ToolHang, ToolSlow, ToolCut, ToolHold
from harness.nemesis.faults.partitions import PartitionNode, PartitionPair, PartitionHalves, PartitionRing, PartitionBridge, PartitionClients, PARTITION_FAULTS, PARTITION_KINDS

__all__ = ["Fault", "describe", "Kill", "Terminate", "Pause", "Restart", "Latency", "ResetPeer", "Timeout", "Bandwidth", "Slicer", "LimitData", "Partition", "ClusterNodes", "cluster_of", "first_in_flight", "resolve_node", "KillNode", "RestartNode", "CutInboundNode", "NODE_ROLES", "NODE_FAULTS", "LLMMatch", "LLMRateLimited", "LLMServerError", "LLMHang", "LLMSlowFirstToken", "LLMMalformed", "LLMStreamCut", "LLMEmpty", "LLMTruncated", "LLMRefusal", "LLMBadToolArgs", "LLMSchemaViolation", "LLMWrongTool", "LLMStreamEarlyEnd", "LLMContextLength", "LLMAuth", "OFFERS_TOOLS", "VALUE_FAULTS", "ToolError", "ToolHang", "ToolSlow", "ToolCut", "ToolHold", "PartitionNode", "PartitionPair", "PartitionHalves", "PartitionRing", "PartitionBridge", "PartitionClients", "PARTITION_FAULTS", "PARTITION_KINDS"]

"""Leadership under partitions: a leader cut off from the majority must be replaced, inside the
fault's window, within Restate's failure-detection time. Reads the faults' records (the
leaders they found, the side that kept a majority) and the sampled leadership."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from harness.checker.check import Check, CheckResult
from harness.checker.classify import ClassifiedCall
from harness.history import FaultRecord, History, LeaderChange

# On this machine an isolated leader was replaced after a median 6.0 s (9 to 16 s under a
# 200-request soak beside another scenario) with the harness's cluster settings
# (``cluster.FAILURE_DETECTION``), and 13.4 s with Restate 1.7.12's defaults
# (benchmarks/partition_failover.py). The bound leaves room for a busy CI.
FAILOVER_BOUND_S = 20.0


@dataclass(frozen=True)
class Failover:
    """One partition's leader cut off by one fault, and when (if) another took over."""

    fault: FaultRecord
    partition_id: int
    old_leader: str
    new_leader: str | None
    after_s: float | None  # from the cut to the first sighting of a new leader at a higher epoch

    def describe(self) -> str:
        if self.new_leader is None or self.after_s is None:
            return f"{self.fault.kind}: partition {self.partition_id}'s leader {self.old_leader} was never replaced"
        return (f"{self.fault.kind}: partition {self.partition_id}'s leader {self.old_leader} replaced by "
                f"{self.new_leader} {self.after_s:.1f} s after the cut")


def failovers(history: History) -> list[Failover]:
    """Every partition leader a fault left outside the majority, and its successor."""
    found = []
    for fault in history.faults:
        majority = fault.detail.get("majority")
        leaders = fault.detail.get("leaders_before") or {}
        epochs = fault.detail.get("epochs_before") or {}
        if majority is None:
            continue
        for pid, leader in leaders.items():
            if leader in majority:
                continue
            change = _successor(history.leadership, int(pid), leader, int(epochs.get(pid, -1)), fault.applied_at)
            found.append(Failover(fault, int(pid), leader, change.leader if change else None,
                                  change.at - fault.applied_at if change else None))
    return found


def _successor(changes: list[LeaderChange], pid: int, old: str, epoch: int, since: float) -> LeaderChange | None:
    return next((c for c in changes if c.partition_id == pid and c.at >= since and c.leader not in (None, old)
                 and c.epoch > epoch), None)


@dataclass(frozen=True)
class IsolatedLeaderReplaced(Check):
    """A leader a partition left without a majority lost its leadership while the partition
    lasted, within ``within_s`` of the cut (another node led at a higher epoch). Not exercised
    when no partition cut a leader off."""

    name: ClassVar[str] = "isolated leader replaced"
    bug_class: ClassVar[str | None] = "stale_leader"
    within_s: float = FAILOVER_BOUND_S

    def evaluate(self, history: History, calls: list[ClassifiedCall]) -> CheckResult:
        seen = failovers(history)
        if not seen:
            return self.result(True, "no partition cut a leader off from the majority", exercised=False)
        late = [f for f in seen if f.after_s is None or f.after_s > self.within_s
                or (f.fault.undone_at is not None and f.fault.applied_at + f.after_s > f.fault.undone_at)]
        message = "; ".join(f.describe() for f in seen)
        if late:
            return self.result(False, f"{message} (bound {self.within_s:.0f} s, inside the fault's window)",
                               advice="a partition that heals before Restate's failure detector acts tests no "
                                      "failover: make it last longer than the bound")
        return self.result(True, f"{message} (bound {self.within_s:.0f} s)")


__all__ = ["FAILOVER_BOUND_S", "Failover", "IsolatedLeaderReplaced", "failovers"]

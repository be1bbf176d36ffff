"""The isolated-leader check reads only the history: the faults' records and the sampled leaders."""

from __future__ import annotations

import time

from harness.checker.leadership import IsolatedLeaderReplaced, failovers
from harness.history import FaultRecord, History, LeaderChange
from harness.nemesis.triggers import LeaderReplaced

T0 = 1_000.0


def history(changes: list[tuple[float, str, int]], *, majority: list[str], healed_after: float = 15.0) -> History:
    fault = FaultRecord("partition_node", "leader", T0 + 1, undone_at=T0 + 1 + healed_after,
                        detail={"node": "restate-1", "majority": majority, "leaders_before": {"0": "restate-1"},
                                "epochs_before": {"0": 2}})
    return History(started_at=T0, faults=[fault],
                   leadership=[LeaderChange(T0 + at, 0, leader, epoch) for at, leader, epoch in changes])


def test_a_leader_cut_off_and_replaced_inside_the_window_passes_with_the_figure() -> None:
    h = history([(0.0, "restate-1", 2), (7.0, "restate-3", 3), (18.0, "restate-1", 4)], majority=["restate-2", "restate-3"])
    result = IsolatedLeaderReplaced().evaluate(h, [])
    assert result.ok and result.exercised
    assert "replaced by restate-3 6.0 s after the cut" in result.message
    [failover] = failovers(h)
    assert failover.old_leader == "restate-1" and failover.after_s == 6.0


def test_a_leader_never_replaced_or_replaced_too_late_fails() -> None:
    never = history([(0.0, "restate-1", 2)], majority=["restate-2", "restate-3"])
    assert not IsolatedLeaderReplaced().evaluate(never, []).ok
    assert "never replaced" in IsolatedLeaderReplaced().evaluate(never, []).message
    late = history([(0.0, "restate-1", 2), (14.0, "restate-2", 3)], majority=["restate-2", "restate-3"])
    assert not IsolatedLeaderReplaced(within_s=10.0).evaluate(late, []).ok
    after_heal = history([(0.0, "restate-1", 2), (9.0, "restate-2", 3)], majority=["restate-2", "restate-3"],
                         healed_after=5.0)
    assert not IsolatedLeaderReplaced().evaluate(after_heal, []).ok  # replaced only once the partition healed


def test_an_old_leader_still_acting_at_its_epoch_is_not_a_successor() -> None:
    h = history([(0.0, "restate-1", 2), (3.0, "restate-2", 2)], majority=["restate-2", "restate-3"])
    assert not IsolatedLeaderReplaced().evaluate(h, []).ok  # a higher epoch is what proves a new election


def test_a_partition_that_leaves_the_leader_in_the_majority_is_not_exercised() -> None:
    h = history([(0.0, "restate-1", 2)], majority=["restate-1", "restate-3"])
    result = IsolatedLeaderReplaced().evaluate(h, [])
    assert result.ok and not result.exercised


class Leaders:
    """A run as the trigger sees it: only its sampled leadership."""

    def __init__(self, changes: list[LeaderChange]) -> None:
        self.changes = changes

    def leadership(self) -> list[LeaderChange]:
        return self.changes


def test_leader_replaced_fires_some_time_after_a_higher_epoch_or_at_most_after_its_bound() -> None:
    now = time.time()
    armed = now - 10.0
    before = LeaderChange(armed - 5, 0, "restate-1", 2)
    trigger = LeaderReplaced(then_s=2.0, at_most_s=60.0)
    assert not trigger.fired(Leaders([before]), armed)  # type: ignore[arg-type]
    fresh = LeaderChange(now - 1.0, 0, "restate-3", 3)
    assert not trigger.fired(Leaders([before, fresh]), armed)  # type: ignore[arg-type]  # 1 s ago, not 2
    older = LeaderChange(now - 3.0, 0, "restate-3", 3)
    assert trigger.fired(Leaders([before, older]), armed)  # type: ignore[arg-type]
    stale = LeaderChange(now - 3.0, 0, "restate-1", 2)  # the old leader seen again at its epoch
    assert not trigger.fired(Leaders([before, stale]), armed)  # type: ignore[arg-type]
    assert LeaderReplaced(2.0, at_most_s=5.0).fired(Leaders([before]), armed)  # type: ignore[arg-type]

"""The observer: samples Restate while a run is going, waits for its invocations, and at the
end gathers everything into one ``History``. It reads; it never injects or judges."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harness.context import Progress
from harness.env.environment import Environment
from harness.errors import HarnessError
from harness.history import FaultRecord, History, Invocation, LeaderChange, Request, Samples


@dataclass
class Observer:
    env: Environment
    samples: Samples = field(default_factory=Samples)
    leadership: list[LeaderChange] = field(default_factory=list)

    @property
    def watches_leaders(self) -> bool:
        """A cluster: its partitions' leaders are sampled over the run."""
        return callable(getattr(self.env.restate, "leaders", None))

    def sample_leaders(self) -> None:
        """One look at who leads each partition; a change (or a first sight) is recorded."""
        seen = self.env.restate.leaders()  # type: ignore[attr-defined]
        now = time.time()
        last = {c.partition_id: c for c in self.leadership}
        for pid, (leader, epoch) in sorted(seen.items()):
            if pid not in last or (last[pid].leader, last[pid].epoch) != (leader, epoch):
                self.leadership.append(LeaderChange(now, pid, leader, epoch))

    @property
    def mismatch_seen(self) -> bool:
        """Has Restate reported a journal mismatch (RT0016, non-determinism) for any invocation?"""
        return any("RT0016" in f for failures in self.samples.failures_seen.values() for f in failures)

    def sample(self, ids: Sequence[str]) -> None:
        """One look at ``ids`` not yet done, and their callees: retry counts, statuses and
        failures (a done row never changes, so it is not asked for again)."""
        seen = self.samples.statuses_seen
        pending = [i for i in ids if "completed" not in seen.get(i, ())]
        if pending:
            for row in self.env.admin.invocations(pending) + self.env.admin.callees(pending):
                self.samples.add(row)

    def wait_for_invocations(
        self,
        ids: Sequence[str],
        deadline_s: float,
        on_progress: Progress | None = None,
        stop_when: Callable[[list[Invocation]], bool] | None = None,
    ) -> None:
        """Poll ``sys_invocation`` until every id completed (or the deadline: HarnessError),
        sampling retry counts, statuses and failures on the way (callees retry on their own:
        a remote agent's fault shows in its own row)."""
        deadline = time.monotonic() + deadline_s
        finished: dict[str, Invocation] = {}  # done rows never change: not asked for again
        while True:
            polled = time.monotonic()
            pending = [i for i in ids if i not in finished]
            fresh = self.env.admin.invocations(pending)
            for row in fresh + self.env.admin.callees(pending):
                self.samples.add(row)
            finished |= {r.id: r for r in fresh if r.done}
            rows = list(finished.values()) + [r for r in fresh if not r.done]
            completed = len(finished)
            if on_progress is not None:
                on_progress({"completed": completed})
            if len(rows) == len(ids) and completed == len(ids):
                return
            if self.mismatch_seen:  # a journal mismatch never heals by waiting: report it now
                return
            if stop_when is not None and stop_when(rows):
                return
            if time.monotonic() > deadline:
                stuck = [f"{r.id} ({r.status}, {(r.last_failure or '')[:120]})" for r in rows if not r.done]
                raise HarnessError(f"invocations not done after {deadline_s:.0f}s: {', '.join(stuck)}")
            # Ten polls a second, unless a poll itself is slow (a soak's thousand rows): then
            # a quarter of the time at most, so that watching does not slow the server.
            time.sleep(max(0.1, 3 * (time.monotonic() - polled)))

    def gather(self, requests: Sequence[Request], faults: Sequence[FaultRecord], started_at: float, planned_faults: int) -> History:
        """Everything the run left behind, in a constant number of queries per call-tree
        level, however many requests there were."""
        env = self.env
        roots = [r.invocation_id for r in requests]
        invocations = env.admin.call_tree(roots)
        ids = [i.id for i in invocations]
        # Every environment has its own server: what else it ran since the start is a stray.
        known = set(ids)
        strays = [
            inv for inv in env.admin.invocations(None)
            if inv.id not in known and (inv.created_at or 0.0) >= started_at - 1.0
        ]
        return History(
            started_at=started_at,
            requests=list(requests),
            faults=list(faults),
            llm_calls=list(env.llm.calls),
            stub_calls=[call for stub in env.stubs for call in stub.ledger()],
            invocations=invocations + strays,
            journal=env.admin.journal(ids),
            outputs=env.admin.outputs(ids),
            keyed_invocations=env.admin.by_idempotency_key([r.idempotency_key for r in requests]),
            inputs=env.admin.inputs([inv.id for inv in strays]),
            samples=self.samples,
            planned_faults=planned_faults,
            restate=env.restate_settings,
            ended_at=time.time(),
            leadership=list(self.leadership),
        )

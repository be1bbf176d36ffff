"""What each fault did to a run with many requests (soaks, random schedules), in the manner
of Jepsen's performance plots: every request's latency, the completed-requests rate over
time, and per fault its dip, its time to recover and the requests it delayed.

A pure function of the ``History`` (and, optionally, its classified calls), like every
checker; it judges nothing, it measures. Times are seconds since the run's time zero.

Definitions (the report's explanation text says the same):

- A request **starts** when Restate created its invocation (or when the workload recorded it
  accepted, if that is earlier or the invocation is unknown) and **finishes** when its
  invocation completed. Its outcome is ``completed`` (success), ``failed`` (a terminal
  failure) or ``running`` (not done when the run ended). Its latency is finish − start.
- **Throughput** at time t is the number of requests that completed successfully in the
  window (t − w/2, t + w/2], divided by w. The window w is wide enough to hold about
  ``WINDOW_COMPLETIONS`` completions at the run's mean rate and at least 1/40 of the run
  (clamped to 0.25–10 s); it is evaluated every w/4 (at most ``MAX_SERIES_POINTS`` points).
- A fault's **reference** rate is its pre-fault level: the mean throughput over the up to
  three windows before it was applied, counted from the first completion of the run and
  from the healing of any earlier fault, but no more than the rate requests were sent at
  over that stretch (completions above it are an earlier fault's backlog draining). When
  that stretch is shorter than one window (a fault at the start, or right after another)
  or another fault is still in force, the reference is the **offered load** instead: the
  rate at which the workload sent requests over the run (an open-loop workload completes
  requests at that rate when nothing is wrong).
- **Recovered**: the first time at or after the healing (``undone_at``) at which throughput
  is back to at least ``RECOVERED_FRACTION`` (90%) of the reference. When the workload sent
  nothing after the healing (or stopped within a window of it), throughput cannot come
  back, so the fault has also recovered once every request in flight at its healing or
  sent after it has finished, if that is earlier. ``not recovered``: neither happened
  within the run; ``not healed``: the fault was never undone; ``no load``: no request was in
  flight during the fault and none was sent after it.
- The **dip** is 1 − trough / reference, where the trough is the lowest throughput from the
  fault being applied until it recovered (or until the end of the run), while the workload
  was still sending (after its last request throughput falls whatever the faults do; a
  fault that began after it has no dip).
- A fault's **affected window** runs from its application to its recovery (to its healing
  when it did not recover, to the end of the run when it was never healed): requests sent
  after the healing, while the backlog drains, are held up by it too. The requests it
  **delayed** are those in flight or sent during that window whose latency exceeds the
  **delay threshold**, 2 × the baseline latency + 0.1 s, or which never finished. The
  baseline latency is the median latency of the requests that completed before the first
  fault was applied (at least three), else of the completed requests whose lifetime
  overlapped no fault window. A slow request is counted under one fault, so the counts add
  up: the first fault whose own window (applied to healed) its lifetime overlapped, else
  the first whose affected window it overlapped; it is in the ``requests`` (in the
  affected window) of each. Slow requests outside every affected window (a backlog that
  outlasted the throughput's recovery) are counted apart.
- **Wasted LLM calls** are attributed to the first fault whose window overlaps the call's
  exposure (from its arrival until its retry arrived, as the wasted-calls check has it);
  **duplicate** calls to the last fault applied before they arrived.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from harness.checker.classify import ClassifiedCall, classify_history, llm_calls
from harness.history import History
from harness.checker.judgement import FaultImpactRow, ImpactRow, RequestPointRow

MIN_REQUESTS = 10  # fewer requests make no throughput curve: single-request scenarios get none
WINDOW_COMPLETIONS = 15
MIN_WINDOW_S, MAX_WINDOW_S = 0.25, 10.0
MAX_SERIES_POINTS = 400
RECOVERED_FRACTION = 0.9
DELAY_FACTOR = 2.0
DELAY_FLOOR_S = 0.1
BASELINE_MIN_REQUESTS = 3


@dataclass(frozen=True)
class _Req:
    start: float
    end: float | None  # finished (completed or failed); None: still running
    outcome: str

    def overlaps(self, lo: float, hi: float) -> bool:
        return self.start <= hi and (self.end is None or self.end >= lo)


@dataclass(frozen=True)
class _Fault:
    kind: str
    target: str
    at: float
    healed: float | None


def measure_impact(history: History, calls: Sequence[ClassifiedCall] | None = None, *,
                   window_s: float | None = None) -> ImpactRow | None:
    """The impact of the faults of ``history``, or None for a run with fewer than
    ``MIN_REQUESTS`` requests or no fault. ``calls`` are the classified calls when the
    caller has them (else they are classified here); ``window_s`` fixes the throughput
    window (else it is chosen from the run, see the module's docstring)."""
    if len(history.requests) < MIN_REQUESTS or not history.faults:
        return None
    t0 = history.started_at
    reqs = _requests(history)
    faults = [_Fault(f.kind, f.target, f.applied_at - t0, None if f.undone_at is None else f.undone_at - t0)
              for f in history.faults]
    end = max([0.0, *(r.start for r in reqs), *(r.end for r in reqs if r.end is not None),
               *(f.at for f in faults), *(f.healed for f in faults if f.healed is not None),
               *(c.arrived_at - t0 for c in history.llm_calls)])
    completions = sorted(r.end for r in reqs if r.outcome == "completed" and r.end is not None)
    starts = sorted(r.start for r in reqs)
    offered = (len(starts) - 1) / (starts[-1] - starts[0]) if len(starts) > 1 and starts[-1] > starts[0] else None
    window = window_s if window_s is not None else _window(len(completions), end)
    series = _series(completions, window, end)
    baseline, baseline_of = _baseline_latency(reqs, faults)
    threshold = DELAY_FACTOR * baseline + DELAY_FLOOR_S if baseline is not None else None
    classified = list(calls) if calls is not None else classify_history(history)
    wasted, tokens, duplicates, unattributed = _attribute_calls(history, classified)
    rows, affected = [], []
    for i, fault in enumerate(faults):
        row, until = _fault_row(fault, faults, reqs, completions, starts, series, window, offered, end)
        row.wasted_calls, row.wasted_tokens, row.duplicate_calls = wasted[i], tokens[i], duplicates[i]
        rows.append(row)
        affected.append(until)
    unattributed_delayed = _count_delayed(rows, faults, affected, reqs, threshold) if threshold is not None else 0
    return ImpactRow(
        window_s=round(window, 3),
        end_s=round(end, 3),
        offered_rps=_r(offered),
        baseline_latency_s=_r(baseline),
        baseline=baseline_of,
        delay_threshold_s=_r(threshold),
        throughput_t=[round(t, 3) for t, _ in series],
        throughput_rps=[round(v, 2) for _, v in series],
        requests=[RequestPointRow(sent_s=round(r.start, 3), finished_s=_r(r.end), outcome=r.outcome) for r in reqs],
        faults=rows,
        unattributed_wasted=unattributed,
        unattributed_delayed=unattributed_delayed,
    )


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _requests(history: History) -> list[_Req]:
    t0 = history.started_at
    out = []
    for request in history.requests:
        inv = history.invocation.get(request.invocation_id)
        start = request.sent_at
        if inv is not None and inv.created_at is not None:
            start = min(start, inv.created_at)
        if inv is not None and inv.done and inv.completed_at is not None:
            outcome = "completed" if inv.succeeded else "failed"
            out.append(_Req(start - t0, max(inv.completed_at, start) - t0, outcome))
        else:
            out.append(_Req(start - t0, None, "running"))
    return sorted(out, key=lambda r: r.start)


def _window(completed: int, end: float) -> float:
    mean_rate = completed / end if end > 0 else 0.0
    wide_enough = WINDOW_COMPLETIONS / mean_rate if mean_rate > 0 else MAX_WINDOW_S
    return min(MAX_WINDOW_S, max(MIN_WINDOW_S, end / 40, wide_enough))


def _count(sorted_times: list[float], lo: float, hi: float) -> int:
    """How many times lie in (lo, hi]."""
    return bisect_right(sorted_times, hi) - bisect_right(sorted_times, lo)


def _series(completions: list[float], window: float, end: float) -> list[tuple[float, float]]:
    """Throughput at window centres from w/2 to end − w/2 (a whole window inside the run);
    one point at end/2 for a run shorter than a window."""
    lo, hi = window / 2, end - window / 2
    if hi <= lo:
        return [(end / 2, _count(completions, -1e-9, end) / max(end, 1e-9))]
    step = max(window / 4, (hi - lo) / (MAX_SERIES_POINTS - 1))
    n = int((hi - lo) / step) + 1
    points = [lo + k * step for k in range(n)]
    return [(t, _count(completions, t - window / 2, t + window / 2) / window) for t in points]


def _baseline_latency(reqs: list[_Req], faults: list[_Fault]) -> tuple[float | None, str]:
    first = min(f.at for f in faults)
    done = [r for r in reqs if r.outcome == "completed" and r.end is not None]
    before = [r.end - r.start for r in done if r.end is not None and r.end < first]
    if len(before) >= BASELINE_MIN_REQUESTS:
        return statistics.median(before), f"the {len(before)} requests completed before the first fault"
    clear = [r.end - r.start for r in done if r.end is not None
             and not any(r.overlaps(f.at, f.healed if f.healed is not None else float("inf")) for f in faults)]
    if clear:
        return statistics.median(clear), f"the {len(clear)} completed requests that overlapped no fault window"
    return None, "no request completed clear of every fault"


def _fault_row(fault: _Fault, faults: list[_Fault], reqs: list[_Req], completions: list[float], starts: list[float],
               series: list[tuple[float, float]], window: float, offered: float | None, end: float
               ) -> tuple[FaultImpactRow, float]:
    """The fault's row (delayed requests aside) and the end of its affected window."""
    row = FaultImpactRow(kind=fault.kind, target=fault.target, at_s=round(fault.at, 3), healed_s=_r(fault.healed))
    # The reference: the pre-fault level, or the offered load.
    lo = max([fault.at - 3 * window, completions[0] if completions else fault.at,
              *(f.healed for f in faults if f.healed is not None and f.healed <= fault.at and f is not fault)])
    if fault.at - lo >= window and not any(f.at < fault.at and (f.healed is None or f.healed > lo)
                                           for f in faults if f is not fault):
        # Completions above the send rate are an earlier fault's backlog draining, not the
        # steady level: the pre-fault level is what was both sent and completed.
        span = fault.at - lo
        reference = min(_count(completions, lo, fault.at), _count(starts, lo, fault.at)) / span
        row.reference = "pre-fault"
    else:
        reference, row.reference = offered, "offered load"
    row.reference_rps = _r(reference, 2)
    # Recovery.
    recovered_at: float | None = None
    if fault.healed is None:
        row.recovery = "not healed"
    else:
        held = [r for r in reqs if r.start <= fault.healed and (r.end is None or r.end >= fault.healed)]
        later = [r for r in reqs if r.start > fault.healed]
        if not any(r.overlaps(fault.at, fault.healed) for r in reqs) and not later:
            row.recovery = "no load"
        else:
            if reference:
                recovered_at = next((t for t, v in series if t >= fault.healed and v >= RECOVERED_FRACTION * reference),
                                    None)
            if all(r.start <= fault.healed + window for r in later) and all(r.end is not None for r in held + later):
                # The workload stopped sending (within a window of the healing): throughput
                # cannot come back, so it recovered when the requests it held up finished.
                drained = max([fault.healed, *(r.end for r in held + later if r.end is not None)])
                recovered_at = drained if recovered_at is None else min(recovered_at, drained)
            row.recovery = "recovered" if recovered_at is not None else "not recovered"
    row.recovered_s = _r(recovered_at - fault.healed) if recovered_at is not None and fault.healed is not None else None
    # The dip: the trough from the fault until it recovered (or the end of the run), while
    # the workload was still sending: after that, throughput falls whatever the faults do.
    until = min(recovered_at if recovered_at is not None else end, reqs[-1].start)
    during = [v for t, v in series if fault.at <= t <= until]
    if not during and fault.at <= until:  # a window shorter than the series' step: the nearest point
        nearest = min(series, key=lambda p: abs(p[0] - fault.at), default=None)
        during = [nearest[1]] if nearest is not None else []
    if during and row.recovery != "no load":
        row.trough_rps = round(min(during), 2)
        row.dip = round(max(0.0, 1.0 - min(during) / reference), 3) if reference else None
    # The affected window: its requests (delayed ones are counted by the caller).
    affected_end = (recovered_at if recovered_at is not None else
                    fault.healed if fault.healed is not None else end)
    hit = [r for r in reqs if r.overlaps(fault.at, max(affected_end, fault.at))]
    row.requests = len(hit)
    row.failed = sum(1 for r in hit if r.outcome == "failed")
    return row, max(affected_end, fault.at)


def _count_delayed(rows: list[FaultImpactRow], faults: list[_Fault], affected: list[float], reqs: list[_Req],
                   threshold: float) -> int:
    """Count each slow request under one fault: the first (by application) whose window
    (applied to healed) its lifetime overlapped, else the first whose affected window it
    overlapped. Returns how many slow requests no fault's affected window overlapped."""
    order = sorted(range(len(faults)), key=lambda i: faults[i].at)
    unattributed = 0
    for r in reqs:
        if r.end is not None and r.end - r.start <= threshold:
            continue
        first = next((i for i in order if r.overlaps(faults[i].at, faults[i].healed if faults[i].healed is not None
                                                     else float("inf"))), None)
        if first is None:
            first = next((i for i in order if r.overlaps(faults[i].at, affected[i])), None)
        if first is None:
            unattributed += 1
        else:
            rows[first].delayed += 1
    return unattributed


def _attribute_calls(history: History, calls: Sequence[ClassifiedCall]) -> tuple[list[int], list[int], list[int], int]:
    """Per fault (in ``history.faults`` order): wasted calls, their tokens, duplicate calls;
    and the wasted calls no fault window overlapped."""
    n = len(history.faults)
    wasted, tokens, duplicates = [0] * n, [0] * n, [0] * n
    unattributed = 0
    llm = sorted(llm_calls(calls), key=lambda c: c.call.arrived_at)
    retry_at: dict[int, float | None] = {}
    by_group: dict[tuple[str | None, str], list[ClassifiedCall]] = {}
    for c in llm:
        by_group.setdefault((c.call.token, c.call.fingerprint), []).append(c)
    for group in by_group.values():
        for this, following in zip(group, [*group[1:], None]):
            retry_at[id(this)] = following.call.arrived_at if following else None
    order = sorted(range(n), key=lambda i: history.faults[i].applied_at)
    for c in llm:
        if c.label == "wasted":
            hit = next((i for i in order if history.faults[i].overlaps(c.call.arrived_at, retry_at.get(id(c)))), None)
            if hit is None:
                unattributed += 1
            else:
                wasted[hit] += 1
                tokens[hit] += _tokens(c)
        elif c.label == "duplicate":
            before = [i for i in order if history.faults[i].applied_at <= c.call.arrived_at]
            if before:
                duplicates[before[-1]] += 1
    return wasted, tokens, duplicates, unattributed


def _tokens(c: ClassifiedCall) -> int:
    usage = getattr(c.call, "usage", None) or {}
    return int(usage.get("total_tokens") or (usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)))


__all__ = ["MIN_REQUESTS", "RECOVERED_FRACTION", "measure_impact"]

"""What each fault did (harness.checker.impact): dip, recovery and delayed requests on
hand-made histories whose answers are known, its edge cases, and the recorded histories."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from harness.checker.classify import ClassifiedCall, classify_history
from harness.checker.impact import measure_impact
from harness.checker.judge import judge
from harness.history import FaultRecord, History, Invocation, LLMCall, Request
from harness.results.schema import ScenarioResult

from . import histories

T0 = 1_000.0
Req = tuple[float, float | None, str]  # start, end (None: running), "success" | "failure"


def made(requests: Sequence[Req], faults: Sequence[tuple[str, float, float | None]]) -> History:
    """A history from request lifetimes and faults (kind, applied, healed), in seconds."""
    h = History(started_at=T0)
    for i, (start, end, result) in enumerate(requests):
        inv = f"inv_{i}"
        h.requests.append(Request(f"rrh-{i}", "q", inv, f"rrh-{i}", T0 + start))
        h.invocations.append(Invocation(inv, "completed" if end is not None else "backing-off", "AgentRouter/answer",
                                        T0 + start, None if end is None else T0 + end,
                                        None if end is None else result))
    h.faults = [FaultRecord(kind, kind, T0 + at, None if healed is None else T0 + healed) for kind, at, healed in faults]
    return h


def steady(n: int = 200, every: float = 0.1, latency: float = 0.1, held: tuple[float, float, float] | None = None) -> list[Req]:
    """``n`` requests sent every ``every`` s from 0.05, each taking ``latency``; those sent
    in [held[0], held[1]) finish together at held[2]."""
    out: list[Req] = []
    for k in range(n):
        start = round(0.05 + every * k, 6)
        end = held[2] if held and held[0] <= start < held[1] else round(start + latency, 6)
        out.append((start, end, "success"))
    return out


# --- known answers --------------------------------------------------------------------------


def test_dip_recovery_and_delayed_on_a_known_history() -> None:
    # 10 req/s, 0.1 s each. A fault from 8 to 10 s holds every request sent from 7.95 s until
    # 12 s; they all finish at 12.5 s. Throughput is 10/s before, 0 during, back at 12.5 s.
    h = made(steady(held=(7.95, 12.0, 12.5)), [("kill", 8.0, 10.0)])
    impact = measure_impact(h, [], window_s=1.5)
    assert impact is not None
    assert impact.window_s == 1.5 and impact.offered_rps == pytest.approx(10.0)
    assert impact.baseline_latency_s == pytest.approx(0.1) and "before the first fault" in impact.baseline
    assert impact.delay_threshold_s == pytest.approx(0.3)  # 2 × 0.1 + 0.1
    [f] = impact.faults
    assert (f.kind, f.at_s, f.healed_s) == ("kill", 8.0, 10.0)
    assert f.reference == "pre-fault" and f.reference_rps == pytest.approx(10.0)  # 45 completions in (3.5, 8]
    assert f.trough_rps == 0.0 and f.dip == 1.0
    # The first window centre at or after the healing whose window (t ± 0.75) holds the
    # 12.5 s burst is 12.0 (centres every 0.375 s from 0.75).
    assert f.recovery == "recovered" and f.recovered_s == pytest.approx(2.0)
    # Sent from 7.95 to 11.95 s: 41 requests, all slower than 0.3 s, in the affected window
    # (from the fault to its recovery at 12 s).
    assert (f.requests, f.delayed, f.failed) == (41, 41, 0)
    assert impact.unattributed_delayed == 0
    # Every request is a point; the series is the completed rate.
    assert len(impact.requests) == 200 and {r.outcome for r in impact.requests} == {"completed"}
    assert max(impact.throughput_rps) > 41 / 1.5  # the held requests finish in one burst


def test_a_fault_that_does_not_hurt_has_no_dip_and_recovers_at_once() -> None:
    h = made(steady(), [("latency", 8.0, 10.0)])
    [f] = measure_impact(h, [], window_s=1.5).faults  # type: ignore[union-attr]
    assert f.dip == pytest.approx(0.0, abs=0.08) and f.recovered_s == pytest.approx(0.0, abs=0.375)
    assert f.delayed == 0 and f.requests == 22  # sent from 7.95 to 10.05 s (recovered at 10.125 s)


def test_fault_at_start_uses_the_offered_load_and_a_clear_baseline() -> None:
    h = made(steady(held=(0.0, 3.0, 3.5)), [("partition", 0.0, 2.0)])
    impact = measure_impact(h, [], window_s=1.5)
    assert impact is not None
    [f] = impact.faults
    assert f.reference == "offered load" and f.reference_rps == pytest.approx(10.0)
    # Nothing completed before the fault: the baseline is the requests clear of its window.
    assert "overlapped no fault window" in impact.baseline and impact.baseline_latency_s == pytest.approx(0.1)
    assert f.dip == 1.0 and f.recovery == "recovered"
    assert f.delayed == 30  # sent from 0.05 to 2.95 s, all finishing at 3.5 s


def test_a_fault_never_healed() -> None:
    requests = [*steady(80), *((0.05 + 0.1 * k, None, "success") for k in range(80, 100))]
    h = made(requests, [("llm_down", 8.0, None)])
    impact = measure_impact(h, [], window_s=1.5)
    assert impact is not None
    [f] = impact.faults
    assert f.recovery == "not healed" and f.recovered_s is None and f.healed_s is None
    assert f.dip == 1.0
    assert f.delayed == 20 and f.requests == 21  # the 20 still running, and one in flight at 8 s
    assert [r.outcome for r in impact.requests].count("running") == 20
    assert all(r.finished_s is None for r in impact.requests if r.outcome == "running")


def test_not_recovered_within_the_run() -> None:
    # Healed at 10 s, but requests sent after it keep failing slowly: throughput never
    # comes back while the workload keeps sending.
    requests = [(s, e if s < 8.0 else s + 5.0, "success" if s < 8.0 else "failure") for s, e, _ in steady()]
    h = made(requests, [("kill", 8.0, 10.0)])
    [f] = measure_impact(h, [], window_s=1.5).faults  # type: ignore[union-attr]
    assert f.recovery == "not recovered" and f.recovered_s is None
    assert (f.failed, f.requests, f.dip) == (20, 21, 1.0)  # sent from 7.95 s to the healing


def test_no_requests_during_a_fault() -> None:
    h = made(steady(100), [("kill", 15.0, 16.0)])  # every request finished by 10.05 s
    [f] = measure_impact(h, [], window_s=1.5).faults  # type: ignore[union-attr]
    assert f.recovery == "no load" and f.recovered_s is None
    assert (f.requests, f.delayed, f.dip, f.trough_rps) == (0, 0, None, None)


def test_fault_after_the_workload_stopped_sending_recovers_when_its_backlog_drains() -> None:
    # The last request is sent at 9.95 s; those sent from 9 s are held by a fault from 9.5
    # to 11 s and finish at 11.4 s. Throughput cannot come back (nothing more is sent), so
    # recovery is when the held requests finished.
    h = made(steady(100, held=(9.0, 10.0, 11.4)), [("terminate", 9.5, 11.0)])
    [f] = measure_impact(h, [], window_s=1.0).faults  # type: ignore[union-attr]
    assert f.recovery == "recovered" and f.recovered_s == pytest.approx(0.4)
    assert f.delayed == 10


def test_overlapping_faults() -> None:
    # A from 5 to 9 s, B from 7 to 8 s inside it: B has no fault-free time before it, so its
    # reference is the offered load; a slow request is counted under A only (the first),
    # but is in both windows.
    h = made(steady(held=(5.0, 9.0, 9.5)), [("partition", 5.0, 9.0), ("kill", 7.0, 8.0)])
    impact = measure_impact(h, [], window_s=1.5)
    assert impact is not None
    a, b = impact.faults
    assert a.reference == "pre-fault" and b.reference == "offered load"
    assert a.delayed == 40 and b.delayed == 0
    assert a.requests == 41 and b.requests > 0  # the request sent at 4.95 s was in flight at 5 s
    assert sum(f.delayed for f in impact.faults) + impact.unattributed_delayed == 40


def test_wasted_and_duplicate_calls_are_attributed_to_one_fault() -> None:
    h = made(steady(), [("kill", 8.0, 10.0), ("partition", 9.0, 11.0)])

    def call(i: int, at: float, label: str, fingerprint: str, token: str = "rrh-1", tokens: int = 50) -> ClassifiedCall:
        llm = LLMCall(i, T0 + at, T0 + at + 0.01, None, None, False, token, fingerprint,
                      None, 0, 200, "ok", False, {}, None, {"total_tokens": tokens})
        return ClassifiedCall(llm, "inv_1", 1, label, "")  # type: ignore[arg-type]

    # Attempts of one call: exposed from 8.5 to 9.5 and from 9.5 to 12 s, both hit first by
    # the kill; one wasted at 3 s and retried at 3.5 s, with no fault near it.
    calls = [call(1, 8.5, "wasted", "a"), call(2, 9.5, "wasted", "a"), call(3, 12.0, "committed", "a", tokens=40),
             call(4, 3.0, "wasted", "b", token="rrh-2"), call(7, 3.5, "committed", "b", token="rrh-2"),
             call(5, 9.6, "duplicate", "c"), call(6, 12.5, "duplicate", "d")]
    impact = measure_impact(h, calls, window_s=1.5)
    assert impact is not None
    kill, partition = impact.faults
    assert (kill.wasted_calls, kill.wasted_tokens) == (2, 100) and partition.wasted_calls == 0
    assert impact.unattributed_wasted == 1
    assert (kill.duplicate_calls, partition.duplicate_calls) == (0, 2)  # the last fault before each


def test_no_impact_for_few_requests_or_no_fault() -> None:
    assert measure_impact(made(steady(9), [("kill", 0.2, 0.3)]), []) is None
    assert measure_impact(made(steady(50), []), []) is None


def test_the_window_follows_the_run() -> None:
    impact = measure_impact(made(steady(held=(7.95, 12.0, 12.5)), [("kill", 8.0, 10.0)]), [])
    assert impact is not None
    assert impact.window_s == pytest.approx(1.5, rel=0.01)  # 15 completions at ~10/s
    assert len(impact.throughput_t) == len(impact.throughput_rps) <= 400


# --- the recorded histories -------------------------------------------------------------------


def test_the_recorded_soak() -> None:
    history = histories.load(histories.SOAK)
    calls = classify_history(history)
    impact = measure_impact(history, calls)
    assert impact is not None
    recorded = histories.recorded(histories.SOAK)
    assert len(impact.requests) == recorded["invocations"]["sent"] == 100
    assert [f.kind for f in impact.faults] == ["partition", "llm_429", "terminate", "reset_peer"]
    assert all(f.recovery == "recovered" and f.recovered_s is not None and f.recovered_s >= 0 for f in impact.faults)
    assert all(f.dip is not None and 0.0 <= f.dip <= 1.0 for f in impact.faults)
    # Every wasted call and every slow request is counted once.
    assert sum(f.wasted_calls for f in impact.faults) + impact.unattributed_wasted == recorded["llm_calls"]["wasted"]
    threshold = impact.delay_threshold_s
    assert threshold is not None and "before the first fault" in impact.baseline
    slow = sum(1 for r in impact.requests if r.finished_s is None or r.finished_s - r.sent_s > threshold)
    assert sum(f.delayed for f in impact.faults) + impact.unattributed_delayed == slow > 0
    # Terminating restate stopped throughput (the workload could not even send: the requests
    # it held back are sent after the healing, into the reset_peer, which delayed them).
    terminate, reset_peer = impact.faults[2:]
    assert terminate.dip == 1.0 and terminate.trough_rps == 0.0 and reset_peer.delayed > 0


def test_the_soak_impact_goes_into_results_and_round_trips() -> None:
    name = histories.SOAK
    result = ScenarioResult.from_judgement(judge(histories.info(name), histories.load(name), []))
    assert result.impact is not None and len(result.impact.faults) == 4
    again = ScenarioResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.impact == result.impact
    assert again.to_json()["impact"] == result.to_json()["impact"]


@pytest.mark.parametrize("name", [n for n in histories.names() if n != histories.SOAK])
def test_single_request_histories_have_no_impact(name: str) -> None:
    assert measure_impact(histories.load(name)) is None


def test_older_results_without_impact_read_as_none() -> None:
    old = ScenarioResult("soak-local", "local-router", "pass").to_json()
    del old["impact"]
    assert ScenarioResult.from_json(old).impact is None
    assert ScenarioResult.from_json({**old, "impact": "garbage"}).impact is None
    partial = ScenarioResult.from_json({**old, "impact": {"faults": [{"kind": "kill", "dip": "x"}, 3]}})
    assert partial.impact is not None and [f.kind for f in partial.impact.faults] == ["kill"]
    assert partial.impact.faults[0].dip is None

"""The history: saved and loaded without loss, and its derived views on recorded runs."""

from __future__ import annotations

import json

import pytest

from harness.history import (
    HISTORY_VERSION,
    FaultRecord,
    History,
    Invocation,
    JournalEntry,
    Samples,
    parse_time,
    steps_from_rows,
)
from tests.unit import histories as H
from tests.unit.histories import FIXTURES, load, root

# --- the fixtures themselves ---------------------------------------------------------------


def test_every_fixture_file_is_indexed_and_small() -> None:
    files = sorted(p.stem for p in FIXTURES.glob("*.json") if p.name != "index.json")
    assert files == H.names()
    assert len(files) == 9
    for name in files:
        assert (FIXTURES / f"{name}.json").stat().st_size < 310_000, name
    assert [n for n in files if H.index()[n]["trimmed"]] == [H.SOAK]


# --- saving and loading --------------------------------------------------------------------


@pytest.mark.parametrize("name", H.names())
def test_a_saved_history_loads_back_equal(name: str) -> None:
    history = load(name)
    saved = history.to_json()
    assert saved["history_version"] == HISTORY_VERSION
    assert History.from_json(saved) == history
    assert History.from_json(json.loads(json.dumps(saved))) == history  # through a file


@pytest.mark.parametrize("name", [n for n in H.names() if n != H.SOAK])
def test_an_untrimmed_fixture_is_exactly_what_to_json_writes(name: str) -> None:
    written = json.loads(json.dumps(load(name).to_json()))
    raw = H.raw(name)
    assert {k: written[k] for k in raw} == raw
    # Fields added since the fixture was recorded are at their defaults.
    assert all(not written[k] for k in set(written) - set(raw))


def test_editing_what_to_json_returned_leaves_the_history_alone() -> None:
    history = load(H.KILL_ROUTER)
    saved = history.to_json()
    saved["requests"].clear()
    saved["outputs"].clear()
    assert len(history.requests) == 1
    assert history.outputs != {}


def test_a_loaded_history_has_typed_rows() -> None:
    history = load(H.KILL_REMOTE)
    assert all(isinstance(i, Invocation) for i in history.invocations + history.keyed_invocations)
    assert all(isinstance(e, JournalEntry) for e in history.journal)
    assert all(isinstance(f, FaultRecord) for f in history.faults)
    assert isinstance(history.samples, Samples)
    assert [(c.service, c.path) for c in history.stub_calls] == [("refunds", "/refunds")]
    assert [c.id for c in history.llm_calls] == [1, 2, 3]


def test_editing_a_loaded_history_does_not_touch_the_next_load() -> None:
    H.load(H.KILL_ROUTER).requests.clear()
    assert len(H.load(H.KILL_ROUTER).requests) == 1


# --- derived views -------------------------------------------------------------------------


def test_steps_pair_each_run_command_with_its_notification() -> None:
    history = load(H.KILL_ROUTER)
    inv = root(H.raw(H.KILL_ROUTER))
    assert [(s.invocation_id, s.index, s.name, s.completed, s.result, s.completions) for s in history.steps] == [
        (inv, 1, "route", True, "Success", 1),
        (inv, 3, "ask BillingAgent", True, "Success", 1),
    ]
    assert history.steps[1].describe() == "step 'ask BillingAgent' (journal index 3)"


def test_the_terminal_failure_of_a_step_is_its_result() -> None:
    assert [(s.name, s.result) for s in load(H.LLM_DOWN).steps] == [("route", "Failure")]


def test_the_soak_has_two_completed_steps_per_request() -> None:
    history = load(H.SOAK)
    assert len(history.requests) == 100 and len(history.steps) == 200
    assert all(s.completed and s.completions == 1 for s in history.steps)


def test_a_call_tree_is_its_root_and_callees() -> None:
    history = load(H.KILL_REMOTE)
    parent, callee = (i.id for i in history.invocations)
    assert history.tree_of(parent) == [parent, callee]
    assert history.tree_of(callee) == [callee]
    assert [c.id for c in history.callees_of(parent)] == [callee]
    assert history.callees_of(callee) == []
    assert [e.index for e in history.journal_of(callee)] == [0, 1, 2, 3, 4, 5]
    tree = history.tree_journal(parent)
    assert len(tree) == 13
    assert [e.appended_at for e in tree] == sorted(e.appended_at for e in tree)
    assert [(e.invocation_id, e.entry_type) for e in tree[-2:]] == [(parent, "Notification: Call"), (parent, "Command: Output")]


def test_the_remote_router_journals_one_call_command_and_its_completions() -> None:
    history = load(H.KILL_REMOTE)
    parent = history.invocations[0].id
    call, invocation_id, done = history.journal_of(parent)[3:6]
    assert (call.entry_type, call.completion_id) == ("Command: Call", None)
    assert call.detail["Command"]["Call"]["invocation_id"] == history.invocations[1].id
    assert (invocation_id.completion_id, done.completion_id, done.result) == (2, 3, "Success")
    assert call.describe() == "'Command: Call' (index 3)"
    assert history.journal_of(parent)[1].describe() == "'Command: Run route' (index 1)"


@pytest.mark.parametrize("name", H.names())
def test_every_recorded_run_was_exercised_and_answered_by_the_fake(name: str) -> None:
    history = load(name)
    assert history.exercised
    assert not history.forwarded
    assert len(history.faults) == history.planned_faults == (0 if name == H.REMOTE_BASELINE else 4 if name == H.SOAK else 1)


# --- parsing Restate's rows ----------------------------------------------------------------


def test_rows_from_restate_are_parsed_with_absent_nulls() -> None:
    inv = Invocation.from_row({"id": "inv_1", "status": "completed", "completed_at": "2026-11-26T01:09:43.482Z",
                               "completion_result": "success", "retry_count": "3"})
    assert (inv.done, inv.succeeded, inv.retry_count, inv.invoked_by_id) == (True, True, 3, None)
    assert inv.completed_at == parse_time("2026-11-26T01:09:43.482Z") == pytest.approx(1795655383.482)
    assert Invocation.from_row({"id": "inv_2"}).status == "unknown"
    assert parse_time(None) is None and parse_time("") is None


def test_journal_rows_are_parsed_and_paired() -> None:
    rows = [
        {"id": "inv_1", "index": "1", "entry_type": "Command: Run", "name": "route", "appended_at": "2026-11-26T00:00:00.100Z",
         "entry_lite_json": json.dumps({"Command": {"Run": {"completion_id": 1, "name": "route"}}})},
        {"id": "inv_1", "index": 2, "entry_type": "Notification: Run", "appended_at": "2026-11-26T00:00:00.300Z",
         "entry_lite_json": json.dumps({"Notification": {"id": {"CompletionId": 1}, "result": "Success"}})},
        {"id": "inv_1", "index": 0, "entry_type": "Command: Input", "entry_lite_json": "not json"},
    ]
    [step] = steps_from_rows(rows)
    assert (step.index, step.name, step.result, round(step.completed_at - step.started_at, 3)) == (1, "route", "Success", 0.2)
    bad = JournalEntry.from_row(rows[2])
    assert (bad.detail, bad.name, bad.appended_at, bad.completion_id) == ({}, "", 0.0, None)


# --- faults and samples --------------------------------------------------------------------


def test_a_fault_window_overlaps_what_it_intersects() -> None:
    fault = FaultRecord("kill", "router", applied_at=10.0, undone_at=12.0)
    assert fault.overlaps(9.0, 10.0) and fault.overlaps(12.0, 13.0) and fault.overlaps(11.0, None)
    assert not fault.overlaps(8.0, 9.9) and not fault.overlaps(12.1, None)
    in_force = FaultRecord("partition", "router->llm", applied_at=10.0)
    assert in_force.overlaps(100.0, None) and not in_force.overlaps(1.0, 9.0)


def test_samples_keep_the_highest_retry_count_and_each_status_and_failure_once() -> None:
    samples = Samples()
    row = Invocation("inv_1", "running", retry_count=1)
    for r in (row, Invocation("inv_1", "backing-off", retry_count=3, last_failure="reset", last_failure_error_code="RT0010"),
              Invocation("inv_1", "running", retry_count=4, last_failure="reset", last_failure_error_code="RT0010"),
              Invocation("inv_1", "completed")):
        samples.add(r)
    assert samples.max_retry_count == {"inv_1": 4}
    assert samples.statuses_seen == {"inv_1": ["running", "backing-off", "completed"]}
    assert samples.failures_seen == {"inv_1": ["RT0010: reset"]}


def test_an_attempt_too_short_to_be_polled_is_known_from_backing_off_then_completing() -> None:
    """1.7's retry_count counts attempts and is n while backing off after attempt n; a
    retried attempt can finish between two polls (the catalogue's graceful restart did)."""
    missed = Samples()
    for r in (Invocation("inv_1", "running", retry_count=1),
              Invocation("inv_1", "backing-off", retry_count=1, last_failure="broken pipe"),
              Invocation("inv_1", "completed")):
        missed.add(r)
    assert missed.max_retry_count == {"inv_1": 2}
    seen = Samples()  # the attempt was polled: nothing counted twice
    for r in (Invocation("inv_1", "backing-off", retry_count=1), Invocation("inv_1", "running", retry_count=2),
              Invocation("inv_1", "completed")):
        seen.add(r)
    assert seen.max_retry_count == {"inv_1": 2}
    waiting = Samples()  # still backing off: no attempt is known to have followed
    waiting.add(Invocation("inv_1", "backing-off", retry_count=1))
    assert waiting.max_retry_count == {"inv_1": 1}
    assert "backing_off_after" not in waiting.to_json()  # bookkeeping, not the record

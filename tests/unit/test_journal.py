"""Parsing Restate 1.7's sys_journal rows (shapes copied from a real run)."""

from harness.history import entries, parse_time, steps_from_rows

ROWS = [
    {"id": "inv_a", "index": 0, "entry_type": "Command: Input", "name": "", "appended_at": "2026-11-25T12:04:04.167Z",
     "entry_lite_json": '{"Command":{"Input":{}}}'},
    {"id": "inv_a", "index": 1, "entry_type": "Command: Run", "name": "route", "appended_at": "2026-11-25T12:04:04.173Z",
     "entry_lite_json": '{"Command":{"Run":{"completion_id":1,"name":"route"}}}'},
    {"id": "inv_a", "index": 3, "entry_type": "Command: Run", "name": "ask BillingAgent",
     "appended_at": "2026-11-25T12:04:04.284Z",
     "entry_lite_json": '{"Command":{"Run":{"completion_id":2,"name":"ask BillingAgent"}}}'},
    {"id": "inv_a", "index": 2, "entry_type": "Notification: Run", "appended_at": "2026-11-25T12:04:04.282Z",
     "entry_lite_json": '{"Notification":{"ty":{"Completion":"Run"},"id":{"CompletionId":1},"result":"Success"}}'},
]


def test_timestamps_are_epoch_seconds_with_milliseconds() -> None:
    assert parse_time("2026-11-25T12:04:04.167Z") == parse_time("2026-11-25T12:04:04Z") + 0.167  # type: ignore[operator]
    assert parse_time(None) is None


def test_entries_are_ordered_by_index_and_carry_completion_ids() -> None:
    parsed = entries(ROWS)
    assert [e.index for e in parsed] == [0, 1, 2, 3]
    assert parsed[2].completion_id == 1 and parsed[2].result == "Success"


def test_run_commands_pair_with_their_notifications() -> None:
    steps = {s.name: s for s in steps_from_rows(ROWS)}
    assert steps["route"].completed and steps["route"].result == "Success"
    assert not steps["ask BillingAgent"].completed

"""Typed views of Restate's introspection rows.

``sys_journal`` (journal v2) names only Commands; a Run's completion is a separate
``Notification: Run`` row that points back to the command by ``completion_id`` inside
``entry_lite_json``. Null columns are absent from rows, so every read uses ``.get``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def parse_time(value: str | None) -> float | None:
    """Restate's ISO-8601 UTC timestamps (millisecond precision) as epoch seconds."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class JournalEntry:
    invocation_id: str
    index: int
    entry_type: str
    name: str
    appended_at: float
    detail: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "JournalEntry":
        try:
            detail = json.loads(row.get("entry_lite_json") or "{}")
        except ValueError:
            detail = {}
        return cls(
            invocation_id=row["id"],
            index=int(row["index"]),
            entry_type=row.get("entry_type", ""),
            name=row.get("name") or "",
            appended_at=parse_time(row.get("appended_at")) or 0.0,
            detail=detail,
        )

    @property
    def completion_id(self) -> int | None:
        command = self.detail.get("Command", {})
        for body in command.values():
            if isinstance(body, dict) and "completion_id" in body:
                return int(body["completion_id"])
        notification = self.detail.get("Notification", {})
        ident = notification.get("id", {}) if isinstance(notification, dict) else {}
        if isinstance(ident, dict) and "CompletionId" in ident:
            return int(ident["CompletionId"])
        return None

    @property
    def result(self) -> str | None:
        notification = self.detail.get("Notification", {})
        return notification.get("result") if isinstance(notification, dict) else None


@dataclass(frozen=True)
class RunStep:
    """A ``ctx.run`` step: its command, and its completion if one was journaled."""

    invocation_id: str
    name: str
    started_at: float
    completed_at: float | None
    result: str | None

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


def entries(rows: list[dict[str, Any]]) -> list[JournalEntry]:
    return sorted((JournalEntry.from_row(r) for r in rows), key=lambda e: (e.invocation_id, e.index))


def run_steps(rows: list[dict[str, Any]]) -> list[RunStep]:
    """Pair every ``Command: Run`` with its ``Notification: Run``."""
    return steps_of(entries(rows))


def steps_of(parsed: list[JournalEntry]) -> list[RunStep]:
    """``run_steps`` on parsed entries."""
    notifications = {
        (e.invocation_id, e.completion_id): e for e in parsed if e.entry_type == "Notification: Run"
    }
    steps = []
    for e in parsed:
        if e.entry_type != "Command: Run":
            continue
        done = notifications.get((e.invocation_id, e.completion_id))
        steps.append(
            RunStep(e.invocation_id, e.name, e.appended_at, done.appended_at if done else None, done.result if done else None)
        )
    return steps


@dataclass(frozen=True)
class Invocation:
    """The parts of a ``sys_invocation`` row the checker needs."""

    id: str
    status: str
    created_at: float | None
    completed_at: float | None
    completion_result: str | None
    completion_failure: str | None
    retry_count: int
    last_failure: str | None
    invoked_by_id: str | None
    target: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Invocation":
        return cls(
            id=row["id"],
            status=row.get("status", "unknown"),
            created_at=parse_time(row.get("created_at")),
            completed_at=parse_time(row.get("completed_at")),
            completion_result=row.get("completion_result"),
            completion_failure=row.get("completion_failure"),
            retry_count=int(row.get("retry_count") or 0),
            last_failure=row.get("last_failure"),
            invoked_by_id=row.get("invoked_by_id"),
            target=row.get("target", ""),
        )

    @property
    def done(self) -> bool:
        return self.status == "completed"

"""Results: the verdict of one scenario and the machine-readable ``results.json`` users
script against. A run in which nothing was exercised is ``unknown``, never ``pass``.

The one schema of ``results.json``, for writing and for reading, in three modules (their
names are collected here):

- ``harness.results.batch``: ``BatchResults(meta, scenarios)`` is the file: ``to_json()`` /
  ``from_json()``, ``read(path)`` and ``write(folder)``; the file carries ``schema_version``
  at the top level (files without it are version 1).
- ``harness.results.scenario``: ``ScenarioResult`` is one scenario's run: the judge's
  ``Judgement`` (``harness.checker.judgement``) and what the runner adds.
  ``ScenarioResult.from_json`` reads older and hand-edited files: missing fields get their
  defaults, values of the wrong type are coerced (``1`` for a float) or dropped (then the
  default), rows that are not objects are dropped.
- ``harness.results.rows``: the judge's typed rows (``FaultRow``, ``FindingRow``,
  ``CallRow``, ``SideEffectRow``, ``TimelineRow``, ``JournalRow``; ``ImpactRow`` with
  ``FaultImpactRow`` and ``RequestPointRow``, the optional per-fault impact of a
  many-request run) as JSON objects: the same objects as always (``"class"`` for
  ``class_``), and keys a row does not know kept in its ``extra``.
- ``Verdict``, ``VERDICTS``, ``GOOD_VERDICTS`` and ``BAD_VERDICTS``: the verdicts, defined
  once (in ``harness.checker.judgement``) for the judge, the CLI, the pytest plugin and the report.
"""

from __future__ import annotations

from harness.checker.judgement import (
    BAD_VERDICTS,
    GOOD_VERDICTS,
    VERDICTS,
    CallRow,
    FaultImpactRow,
    FaultRow,
    FindingRow,
    ImpactRow,
    JournalRow,
    LeaderRow,
    RequestPointRow,
    Row,
    SideEffectRow,
    TimelineRow,
    Verdict,
)
from harness.results.batch import SCHEMA_VERSION, BatchResults
from harness.results.scenario import ScenarioResult

__all__ = [
    "BAD_VERDICTS", "GOOD_VERDICTS", "SCHEMA_VERSION", "VERDICTS", "BatchResults", "CallRow", "FaultImpactRow",
    "FaultRow", "FindingRow", "ImpactRow", "JournalRow", "LeaderRow", "RequestPointRow", "Row",
    "ScenarioResult",
    "SideEffectRow", "TimelineRow", "Verdict",
]

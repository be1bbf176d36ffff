"""The one results schema: results.json written and read by the same types; older and
hand-edited files read tolerantly; the JSON shape README.md documents is kept (fields are
only added); typed rows written as the JSON objects they always were."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

from harness.redact import REDACTED
from harness.report.publish import write_results
from harness.checker.judgement import JournalRow, SideEffectRow
from harness.results.rows import row_from_json, row_to_json
from harness.results.schema import (
    BAD_VERDICTS,
    GOOD_VERDICTS,
    SCHEMA_VERSION,
    VERDICTS,
    BatchResults,
    CallRow,
    FaultRow,
    FindingRow,
    ScenarioResult,
    TimelineRow,
    Verdict,
)

# README.md's results.json, every key it documents.
README_SCENARIO_KEYS = {"name", "agent", "verdict", "invocations", "llm_calls", "side_effects", "recovery_s", "faults",
                        "findings", "calls", "journal", "timeline", "stuck", "seed", "schedule", "reproduce", "errors"}
README_FAULT_KEYS = {"kind", "target", "at_s", "healed_s"}


R = TypeVar("R")


def rows(cls: type[R], objects: list[dict[str, Any]]) -> list[R]:
    """Typed rows read from the JSON objects results.json holds."""
    return [row_from_json(cls, o) for o in objects]


def judged() -> ScenarioResult:
    """A result with every kind of row, read from JSON objects."""
    r = ScenarioResult("kill", "local-router", "pass", "SIGKILL the router", ["kill"])
    r.invocations = {"sent": 1, "completed": 1, "failed": 0, "stuck": 0, "callees": 0}
    r.llm_calls = {"committed": 2, "wasted": 1, "duplicate": 0}
    r.faults = rows(FaultRow, [
        {"kind": "kill", "target": "router", "at_s": 0.1, "healed_s": 0.3},
        {"kind": "latency", "target": "router->llm", "at_s": 0.0, "healed_s": None, "detail": {"latency_ms": 500}}])
    r.findings = rows(FindingRow, [{"check": "all invocations completed", "ok": True, "message": "1/1"}])
    r.calls = rows(CallRow, [
        {"id": 1, "invocation_id": "inv_1", "token": "rrh-1", "fingerprint": "f1", "attempt": 1, "class": "wasted",
         "reason": "superseded", "outcome": "ok", "status": 200, "arrived_s": 0.1, "finished_s": 0.2,
         "ended_s": 0.2, "model": "gpt-4o-mini", "tokens": 52, "answer": "Refunded.", "forwarded": False,
         "new_in_a_later_judge": [1, 2]}])
    r.timeline = rows(TimelineRow, [
        {"invocation_id": "inv_1", "target": "AgentRouter/answer", "parent": None, "created_s": 0.0,
         "completed_s": 1.0, "status": "completed", "result": "success", "output": "Refunded.", "failure": None}])
    r.journal = rows(JournalRow, [
        {"invocation_id": "inv_1", "index": 0, "entry_type": "Command: Input", "name": "", "appended_s": 0.0}])
    r.side_effect_calls = rows(SideEffectRow, [
        {"id": 1, "service": "refunds", "token": "rrh-1", "attempt": 1, "class": "committed", "reason": "once",
         "arrived_s": 0.5}])
    r.stuck = [{"invocation": {"id": "inv_2", "status": "backing-off"}, "journal": []}]
    r.seed, r.schedule, r.reproduce = 7, ["kill router when LLM call 2 is held"], "python -m harness run kill"
    return r


def test_verdicts_are_defined_once() -> None:
    assert VERDICTS == ("pass", "fail", "expected failure", "unknown")
    assert set(VERDICTS) == set(Verdict.__args__)  # type: ignore[attr-defined]
    assert GOOD_VERDICTS == {"pass", "expected failure"} and BAD_VERDICTS == {"fail", "unknown"}
    assert ScenarioResult("a", "b", "expected failure").good and not ScenarioResult("a", "b", "unknown").good


def test_rows_read_from_json_objects_are_typed_and_written_back_by_their_json_names() -> None:
    r = judged()
    assert isinstance(r.faults[0], FaultRow) and isinstance(r.findings[0], FindingRow)
    assert isinstance(r.calls[0], CallRow) and isinstance(r.timeline[0], TimelineRow)
    call = r.calls[0]
    assert (call.class_, call.tokens, call.extra) == ("wasted", 52, {"new_in_a_later_judge": [1, 2]})
    assert not isinstance(call, Mapping)  # a row is read by its attributes; its JSON object is row_to_json's
    written = row_to_json(call)
    assert written["class"] == "wasted" and written.get("fingerprint") == "f1" and written["new_in_a_later_judge"] == [1, 2]
    assert "class" in written and "class_" not in written and written.get("missing", 0) == 0
    with pytest.raises(KeyError):
        written["class_"]
    assert r.findings[0].ok is True and row_to_json(r.findings[0]) == {"check": "all invocations completed", "ok": True,
                                                                       "message": "1/1", "severity": "finding",
                                                                       "exercised": True}
    assert "ok  all invocations completed: 1/1" in r.explain() and "call #1 wasted: superseded" in r.explain()


def test_the_json_shape_is_kept() -> None:
    data = judged().to_json()
    assert README_SCENARIO_KEYS <= set(data)
    assert data["faults"][0] == {"kind": "kill", "target": "router", "at_s": 0.1, "healed_s": 0.3}  # no empty detail
    assert README_FAULT_KEYS | {"detail"} == set(data["faults"][1])
    assert data["calls"][0]["class"] == "wasted" and "class_" not in data["calls"][0] and "extra" not in data["calls"][0]
    assert data["calls"][0]["new_in_a_later_judge"] == [1, 2]  # what the schema does not know is kept
    assert data["side_effect_calls"][0]["class"] == "committed"
    assert json.loads(json.dumps(data)) == data  # plain JSON


def test_round_trip() -> None:
    r = judged()
    again = ScenarioResult.from_json(json.loads(json.dumps(r.to_json())))
    assert again == r and again.to_json() == r.to_json()
    batch = BatchResults({"batch_id": "20261125-120000", "versions": {"python": "3.11"}}, [r, r])
    assert BatchResults.from_json(json.loads(json.dumps(batch.to_json()))) == batch


def test_to_json_is_a_copy() -> None:
    r = judged()
    data = r.to_json()
    data["tags"].append("x")
    data["stuck"][0]["invocation"]["status"] = "changed"
    assert r.tags == ["kill"] and r.stuck[0]["invocation"]["status"] == "backing-off"


def test_results_json_has_a_schema_version(tmp_path: Path) -> None:
    path = write_results([judged()], tmp_path / "run", {"run_id": "r1", "note": "OPENAI_API_KEY=sk-proj-abcdefghij123"})
    document = json.loads(path.read_text())
    assert list(document) == ["schema_version", "meta", "scenarios"] and document["schema_version"] == SCHEMA_VERSION == 2
    assert document["meta"]["note"] == f"OPENAI_API_KEY={REDACTED}"  # redacted on write
    assert (tmp_path / "run" / "index.html").exists()
    read = BatchResults.read(path)
    assert read.schema_version == 2 and read.scenarios == [judged()]


def test_an_older_file_reads_with_defaults_and_coerced_types() -> None:
    run = BatchResults.from_json({
        "meta": {"run_id": "old", "versions": ["not", "a", "dict"]},
        "scenarios": [
            {"name": "old", "agent": "local-router", "verdict": "pass", "recovery_s": 1, "duration_s": "3.9",
             "seed": 5.0, "always_replay": "yes", "tags": ["kill", None, 3], "llm_calls": {"committed": 2.0, "wasted": "1"},
             "log_tails": {"router": "boom", "odd": {"x": 1}},
             "faults": [{"kind": "kill", "target": "router", "at_s": "0.1"}, "junk", None],
             "calls": [{"id": "7", "class": "committed", "tokens": 12.0, "status": True}],
             "timeline": [{"invocation_id": 12, "parent": None, "created_s": "soon"}],
             "findings": [{"check": "x", "ok": 1}],
             "stuck": [{"invocation": {}}, "junk"]},
            {"name": "no agent or verdict"},
            {"name": 3}, "junk", None,
        ],
    })
    assert run.schema_version == 1 and run.meta == {"batch_id": "old", "versions": {}}  # run_id: the batch's old name
    old, bare = run.scenarios
    assert (old.recovery_s, old.duration_s, old.seed, old.always_replay) == (1.0, 0.0, 5, False)
    assert old.tags == ["kill", "3"] and old.llm_calls == {"committed": 2}
    assert old.log_tails == {"router": "boom"} and old.stuck == [{"invocation": {}}]
    assert old.faults == [FaultRow("kill", "router", None)] and old.faults[0].healed_s is None
    assert (old.calls[0].id, old.calls[0].tokens, old.calls[0].status) == (None, 12, None)
    assert old.timeline == [TimelineRow(invocation_id="12")] and old.findings == [FindingRow("x", False)]
    assert (bare.agent, bare.verdict, bare.calls, bare.reproduce) == ("?", "unknown", [], "")
    assert bare.invocations == {"sent": 0, "completed": 0, "failed": 0}


@pytest.mark.parametrize("document", [[], "x", {"scenarios": {}}, {"meta": {}}, None])
def test_what_is_not_results_is_refused(document: object) -> None:
    with pytest.raises(ValueError):
        BatchResults.from_json(document)


def test_a_scenario_needs_a_name() -> None:
    for data in ({}, {"name": None}, {"name": 3}, ["name"]):
        with pytest.raises(ValueError):
            ScenarioResult.from_json(data)


def test_read_says_which_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text("{nope")
    with pytest.raises(ValueError, match="results.json is not JSON"):
        BatchResults.read(path)
    path.write_text("[]")
    with pytest.raises(ValueError, match="results.json: results.json is an object with a scenarios list"):
        BatchResults.read(path)
    with pytest.raises(OSError):
        BatchResults.read(tmp_path / "missing.json")


def test_a_batch_id_is_read_from_the_old_run_id() -> None:
    old = BatchResults.from_json({"meta": {"run_id": "20261125-120000", "argv": []}, "scenarios": []})
    assert old.meta == {"batch_id": "20261125-120000", "argv": [], "versions": {}} and old.batch_id == "20261125-120000"
    assert old.to_json()["meta"] == {"batch_id": "20261125-120000", "argv": [], "versions": {}}  # written by its new name
    both = BatchResults({"run_id": "old", "batch_id": "new"})
    assert both.meta == {"batch_id": "new"}


def test_a_judgement_becomes_a_result_with_what_the_runner_adds() -> None:
    r = judged()
    again = ScenarioResult.from_judgement(r, duration_s=2.5)
    assert again.calls == r.calls and again.faults == r.faults and again.stuck == r.stuck
    assert (again.duration_s, again.reproduce, again.seed) == (2.5, "", None)  # the runner's fields: its own


def test_writing_results_renders_nothing_and_loads_no_chart_library(tmp_path: Path) -> None:
    """results.json is written on its own after every scenario: the report (jinja2,
    matplotlib) is asked for by the caller, once."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from harness.results.schema import BatchResults, ScenarioResult\n"
        f"BatchResults({{'batch_id': 'b'}}, [ScenarioResult('a', 'b', 'pass')]).write(Path({str(tmp_path)!r}))\n"
        "print(sorted(m for m in ('matplotlib', 'jinja2', 'harness.report') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "results.json").exists() and not (tmp_path / "index.html").exists()

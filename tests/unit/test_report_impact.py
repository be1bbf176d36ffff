"""The report's "What each fault did" section: drawn for a soak (many requests and faults),
not for a single-request scenario; it replaces the soak's one recovery figure and the even
split of its wasted calls."""

from __future__ import annotations

import json
import re
from html import escape as html_escape
from pathlib import Path

from harness.checker.judge import judge
from harness.report import write_report
from harness.report.model import cost_by_kind, recovery_by_kind
from harness.results.schema import ScenarioResult

from . import histories


def judged(name: str) -> ScenarioResult:
    return ScenarioResult.from_judgement(judge(histories.info(name), histories.load(name), []))


def render(tmp_path: Path, *results: ScenarioResult) -> str:
    run_dir = tmp_path / "20261126-000000"
    run_dir.mkdir()
    document = {"meta": {"run_id": run_dir.name}, "scenarios": [r.to_json() for r in results]}
    (run_dir / "results.json").write_text(json.dumps(document))
    return write_report(run_dir, tmp_path).read_text()


def section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    return html[start:html.index("</details>", start)]


def test_the_section_appears_for_a_soak_and_not_for_a_single_request(tmp_path: Path) -> None:
    soak, single = judged(histories.SOAK), judged(histories.KILL_ROUTER)
    assert soak.impact is not None and single.impact is None
    html = render(tmp_path, soak, single)
    soak_part = section(html, "s-soak-local--local-router")
    single_part = section(html, "s-kill-router-during-specialist-call--local-router")
    assert "What each fault did" in soak_part and "What each fault did" not in single_part
    impact = soak_part[soak_part.index("What each fault did"):]
    assert 'aria-label="latency and throughput under faults: soak-local [local-router]"' in impact
    # One row per fault, numbered as on the chart, with the measured figures.
    for i, f in enumerate(soak.impact.faults, 1):
        assert html_escape(f"{i} {f.kind} {f.target}") in impact  # the chart's label (SVG text)
        assert re.search(rf'<td class="num">{i}</td><td>{re.escape(f.kind)}</td>', impact)
    assert "2 × the baseline latency" in impact and "90% of the reference" in impact
    # The soak's recovery is per fault, in the table, not one figure.
    summary_row = html[html.index('href="#s-soak-local--local-router"'):]
    assert 'per fault</a></td>' in summary_row.split("</tr>")[0]
    assert "per fault: see" in soak_part


def test_soaks_leave_the_per_kind_recovery_and_are_attributed_per_fault() -> None:
    soak, single = judged(histories.SOAK), judged(histories.KILL_ROUTER)
    by_kind = recovery_by_kind([soak, single])
    assert list(by_kind) == ["kill"] and [label for label, _ in by_kind["kill"]] == [
        "kill-router-during-specialist-call [local-router]"]
    costs = {c.kind: c for c in cost_by_kind([soak])}
    assert soak.impact is not None
    expected: dict[str, int] = {}
    for f in soak.impact.faults:
        expected[f.kind] = expected.get(f.kind, 0) + f.wasted_calls
    assert {k: c.wasted_calls for k, c in costs.items() if c.wasted_calls} == {k: v for k, v in expected.items() if v}
    assert all(c.per_fault == 1 and c.shared == 0 for c in costs.values())
    assert sum(c.wasted_calls for c in costs.values()) == soak.llm_calls["wasted"]


def test_an_impact_without_faults_draws_nothing(tmp_path: Path) -> None:
    soak = judged(histories.SOAK)
    assert soak.impact is not None
    soak.impact.faults = []
    assert "What each fault did" not in render(tmp_path, soak)

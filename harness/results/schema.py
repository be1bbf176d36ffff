"""Results: the verdict of one scenario and the machine-readable ``results.json`` users
script against. A run in which nothing was exercised is ``unknown``, never ``pass``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Verdict = Literal["pass", "fail", "expected failure", "unknown"]


@dataclass
class ScenarioResult:
    name: str
    agent: str
    verdict: Verdict
    description: str = ""
    tags: list[str] = field(default_factory=list)
    invocations: dict[str, int] = field(default_factory=lambda: {"sent": 0, "completed": 0, "failed": 0})
    llm_calls: dict[str, int] = field(default_factory=lambda: {"committed": 0, "wasted": 0, "duplicate": 0})
    side_effects: dict[str, int] = field(default_factory=dict)  # the same classes, for stub calls
    side_effect_calls: list[dict[str, Any]] = field(default_factory=list)
    recovery_s: float | None = None
    faults: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    journal: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)  # every invocation of the tree, for the report
    duration_s: float = 0.0
    environment_ready_s: float | None = None
    log_tails: dict[str, str] = field(default_factory=dict)
    stuck: list[dict[str, Any]] = field(default_factory=list)  # not done by the deadline: rows and journal
    always_replay: bool = False
    suspended: int = 0  # invocations seen suspended while running: evidence that always-replay took hold
    reproduce: str = ""  # the command that runs this scenario again, the same way
    seed: int | None = None
    schedule: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def explain(self) -> str:
        """The verdict with its evidence, for an assertion message."""
        lines = [f"{self.name} [{self.agent}]: {self.verdict}", *self.errors]
        lines += [f"  {'ok ' if f['ok'] else 'BAD'} {f['check']}: {f['message']}" for f in self.findings]
        lines += [f"  call #{c['id']} {c['class']}: {c['reason']}" for c in self.calls]
        lines += [f"--- {name}\n{tail}" for name, tail in self.log_tails.items()]
        return "\n".join(lines)


def write_results(results: list[ScenarioResult], out_dir: Path, meta: dict[str, Any]) -> Path:
    """Write ``results.json`` and the HTML report, atomically and after every scenario, so
    an interrupted run keeps what it measured. Secrets are redacted in both."""
    from harness.report import write_report  # matplotlib and jinja2 only when writing
    from harness.report.redact import redact_data

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    tmp = path.with_suffix(".tmp")
    document = {"meta": meta, "scenarios": [r.to_json() for r in results]}
    tmp.write_text(json.dumps(redact_data(document), indent=2, default=str))
    tmp.replace(path)
    write_report(out_dir, out_dir.parent)
    return path

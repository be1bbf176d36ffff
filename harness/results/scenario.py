"""One scenario's run as results.json keeps it: the judge's ``Judgement`` and what the runner
adds (timings, the environment, log tails, the reproduce command, a shrunk schedule)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from harness.checker.judgement import VERDICTS, Judgement, Row
from harness.results.rows import read_fields, row_to_json


@dataclass
class ScenarioResult(Judgement):
    """A scenario's run: its judgement, and how the run went."""

    duration_s: float = 0.0
    environment_ready_s: float | None = None
    environment_reused: bool = False  # ran in an environment an earlier scenario left clean (harness.runner.pool)
    phases_s: dict[str, float] = field(default_factory=dict)  # where its time went (harness.timing)
    log_tails: dict[str, str] = field(default_factory=dict)
    always_replay: bool = False
    reproduce: str = ""  # the command that runs this scenario again, the same way (harness.results.reproduce)
    seed: int | None = None
    schedule: list[str] = field(default_factory=list)
    # A failed random schedule, shrunk (harness.nemesis.shrink): the minimal schedule, its
    # request count, choices and reproduce command, the finding that persisted, attempts, time.
    shrunk: dict[str, Any] | None = None

    @classmethod
    def from_judgement(cls, judgement: Judgement, **run: Any) -> "ScenarioResult":
        """The result of a run the judge gave ``judgement`` for; ``run``: fields the runner
        knows (``duration_s=...``)."""
        return cls(**{f.name: getattr(judgement, f.name) for f in fields(Judgement)}, **run)

    def to_json(self) -> dict[str, Any]:
        """The scenario as results.json holds it: a copy, in plain JSON types."""
        out: dict[str, Any] = {}
        for name in _JSON_ORDER:
            value = getattr(self, name)
            if isinstance(value, Row):
                value = row_to_json(value)
            elif isinstance(value, list) and value and isinstance(value[0], Row):
                value = [row_to_json(row) for row in value]
            elif isinstance(value, (dict, list)):
                value = json.loads(json.dumps(value, default=str))  # a copy, as asdict made
            out[name] = value
        return out

    @classmethod
    def from_json(cls, data: Any) -> "ScenarioResult":
        """A scenario of a results.json of any version. ``ValueError`` when ``data`` is not
        an object with a string ``name``; anything else missing or mistyped gets its
        default (an agent ``?``, a verdict ``unknown``)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
            raise ValueError("a scenario is a JSON object with a string name")
        fixed = {**data, "agent": str(data.get("agent") or "?")}
        if fixed.get("verdict") not in VERDICTS:
            fixed["verdict"] = "unknown"
        values, _ = read_fields(cls, fixed, {})
        return cls(**values)

    def explain(self) -> str:
        """The verdict with its evidence, for an assertion message."""
        lines = [f"{self.name} [{self.agent}]: {self.verdict}", *self.errors]
        lines += [f"  {'ok ' if f.ok else 'BAD' if f.failed else 'adv'} {f.check}: {f.message}" for f in self.findings]
        lines += [f"  call #{c.id} {c.class_}: {c.reason}" for c in self.calls]
        lines += [f"--- {name}\n{tail}" for name, tail in self.log_tails.items()]
        return "\n".join(lines)


# The order of a scenario's keys in results.json (as before the judgement was split out).
_JSON_ORDER = (
    "name", "agent", "verdict", "description", "tags", "invocations", "llm_calls", "side_effects", "side_effect_calls",
    "recovery_s", "faults", "leadership", "findings", "errors", "calls", "journal", "timeline", "duration_s", "environment_ready_s",
    "environment_reused", "phases_s", "log_tails", "stuck", "always_replay", "suspended", "reproduce", "seed",
    "schedule", "shrunk", "impact",
)
assert sorted(_JSON_ORDER) == sorted(f.name for f in fields(ScenarioResult)), "every field is written, once"

__all__ = ["ScenarioResult"]

"""``results.json``, the file: one batch (a CLI invocation or a pytest session) and its
scenarios' runs, read and written. Writing it renders nothing: the report is
``harness.report``'s to write (``harness.report.publish.write_results`` does both)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.redact import redact_data
from harness.results.scenario import ScenarioResult

# 1: files without "schema_version". 2: "schema_version" added; the shape is otherwise the same.
SCHEMA_VERSION = 2


@dataclass
class BatchResults:
    """``results.json``: the batch's ``meta`` (batch_id, started_at, finished_at, versions,
    ..., free-form) and its scenarios. A ``run_id`` in ``meta`` (files written before the
    batch had its own name) is read as ``batch_id``."""

    meta: dict[str, Any] = field(default_factory=dict)
    scenarios: list[ScenarioResult] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION  # as read; always written as SCHEMA_VERSION
    # A validation's diagnosis: {"agent", "entry", "baseline", "plan", "classes": {class: row}}
    validation: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if "run_id" in self.meta:  # the old name, in its place; a batch_id given too wins
            renamed = {("batch_id" if k == "run_id" else k): v for k, v in self.meta.items() if k != "batch_id"}
            self.meta = renamed | ({"batch_id": self.meta["batch_id"]} if "batch_id" in self.meta else {})

    @property
    def batch_id(self) -> str | None:
        value = self.meta.get("batch_id")
        return None if value is None else str(value)

    def to_json(self) -> dict[str, Any]:
        document = {"schema_version": SCHEMA_VERSION, "meta": self.meta, "scenarios": [s.to_json() for s in self.scenarios]}
        if self.validation is not None:
            document["validation"] = self.validation
        return document

    @classmethod
    def from_json(cls, data: Any) -> "BatchResults":
        """``ValueError`` when ``data`` is not an object with a ``scenarios`` list. Items of
        that list that are not scenarios (no name) are skipped."""
        if not isinstance(data, Mapping) or not isinstance(data.get("scenarios"), list):
            raise ValueError("results.json is an object with a scenarios list")
        meta = dict(data["meta"]) if isinstance(data.get("meta"), Mapping) else {}
        meta["versions"] = dict(meta["versions"]) if isinstance(meta.get("versions"), Mapping) else {}
        scenarios = []
        for item in data["scenarios"]:
            try:
                scenarios.append(ScenarioResult.from_json(item))
            except ValueError:
                continue
        version = data.get("schema_version", 1)
        validation = data.get("validation")
        return cls(meta, scenarios, version if isinstance(version, int) and not isinstance(version, bool) else 1,
                   dict(validation) if isinstance(validation, Mapping) and isinstance(validation.get("classes"), Mapping)
                   else None)

    @classmethod
    def read(cls, path: Path) -> "BatchResults":
        """Read ``path`` (a results.json). ``OSError`` when it cannot be read, ``ValueError``
        when it is not JSON or not results."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not JSON: {exc}") from None
        try:
            return cls.from_json(raw)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def write(self, out_dir: Path) -> Path:
        """Write ``out_dir/results.json`` atomically, secrets redacted."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "results.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(redact_data(self.to_json()), indent=2, default=str))
        tmp.replace(path)
        return path



__all__ = ["SCHEMA_VERSION", "BatchResults"]

"""Publishing a batch: its ``results.json`` and its HTML report, written together (after every
scenario of a CLI batch), so an interrupted batch keeps what it measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.results.schema import BatchResults, ScenarioResult


def write_results(
    results: list[ScenarioResult], out_dir: Path, meta: dict[str, Any], *, validation: dict[str, Any] | None = None
) -> Path:
    """Write ``results.json`` and the HTML report, atomically. Secrets are redacted in both."""
    from harness.report.render import write_report  # matplotlib and jinja2 only when writing

    path = BatchResults(meta, list(results), validation=validation).write(out_dir)
    write_report(Path(out_dir), Path(out_dir).parent)
    return path

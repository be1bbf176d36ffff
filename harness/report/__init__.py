"""The HTML resilience report: ``write_report(batch_dir, reports_root)`` writes
``batch_dir/index.html`` from the batch's ``results.json`` and the trend over earlier batches;
``write_results`` writes a batch's ``results.json`` and its report together. The report's
libraries (jinja2, matplotlib) load on first use, not on import.

Layer: above results, below the runner; never a live run. Held by ``lint-imports``
(pyproject.toml's [tool.importlinter])."""

from __future__ import annotations

from typing import Any

from .publish import write_results

__all__ = ["write_report", "write_results"]


def __getattr__(name: str) -> Any:
    if name == "write_report":  # imported when asked for: it brings jinja2 and matplotlib
        from .render import write_report

        return write_report
    raise AttributeError(f"module 'harness.report' has no attribute {name!r}")
